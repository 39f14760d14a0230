package cd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/fatih/color"
	"github.com/sourcegraph/conc"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle"
	"github.com/hitl-mlops/interrupt-agent/magefiles/notify"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/servingmetrics"
	"github.com/hitl-mlops/interrupt-agent/magefiles/validation"
	"github.com/hitl-mlops/interrupt-agent/magefiles/verify"
	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace"
)

// EvaluationSetPath is where the labelled evaluation set lives, relative
// to the root.
const EvaluationSetPath = "tests/validation/cases.json"

// AttachValidation keys the gate's verdict on the source environment's
// record of the release (the version the verdict is about);
// AttachValidationGate what a production deploy record relied on: that
// verdict, or an override.
const (
	AttachValidation     = "validation"
	AttachValidationGate = "validation_gate"
)

// ValidationRequestPrefix starts the client_request_id of every request the
// gate sends, so the inference table's readers (the gate's own replay among
// them) can tell evaluation traffic from production traffic.
const ValidationRequestPrefix = "validation-"

// validationBatch is how many records one evaluation request carries: the
// set's 347 cases are 7 requests per version, not 347.
const validationBatch = 50

// ValidateStages is `mage validate <env>`: the release the source
// environment verified (the challenger, serving there) judged against what
// env serves now (the champion), before env sees it.
func ValidateStages() []Stage {
	return []Stage{
		LoadConfig{},   // the target: endpoint, validation policy
		CheckRelease{}, // the tag on HEAD
		Connect{},      // this environment's workspace: the champion and its inference table
		LoadSource{},   // the source's record of this release (source credentials): verified, its version
		Validate{},     // the evaluation set and the replay, judged; the verdict on the source record and under artifacts/
	}
}

// RunValidate runs `validate <env>`.
func RunValidate(ctx context.Context, o Options) error {
	env, err := environmentNamed(o.Env)
	if err != nil {
		return err
	}
	if _, ok := env.PromotesFrom(); !ok {
		return fmt.Errorf("validate %s: %s is not promoted from another environment, so there is no challenger to judge; validate staging or prod", o.Env, o.Env)
	}
	if o.Client.RateLimitPerSecond == 0 {
		// The SDK's 15 requests/s would pace the replay, which bounds
		// its own count.
		o.Client.RateLimitPerSecond = 1000
	}
	s, err := NewState(ctx, o)
	if err != nil {
		return err
	}
	return Flow{Name: "validate:" + o.Env, Stages: ValidateStages()}.Run(ctx, s)
}

// ServedVersion is a model version and the endpoint that served it to the
// gate.
type ServedVersion struct {
	Env      string `json:"env"`
	Endpoint string `json:"endpoint"`
	Served   string `json:"served_entity"`
	Model    string `json:"model"`
	Version  string `json:"version"`
}

func (v ServedVersion) String() string {
	return fmt.Sprintf("%s v%s (%s, served by %s)", v.Model, v.Version, v.Env, v.Endpoint)
}

// ValidationRecord is a verdict as a release record keeps it.
type ValidationRecord struct {
	// Env is the environment the gate guards.
	Env        string              `json:"env"`
	Release    string              `json:"release"`
	Challenger ServedVersion       `json:"challenger"`
	Champion   *ServedVersion      `json:"champion,omitempty"`
	By         string              `json:"by"`
	Report     string              `json:"report,omitempty"`
	Verdict    *validation.Verdict `json:"verdict"`
}

// ValidationFailedError is a verdict that stops the release.
type ValidationFailedError struct {
	Release string
	Verdict *validation.Verdict
}

func (e *ValidationFailedError) Error() string {
	msg := fmt.Sprintf("%s failed validation: %s", e.Release, strings.Join(e.Verdict.Reasons, "; "))
	flips := e.Verdict.Flips
	if e.Verdict.Shadow != nil {
		flips = append(append([]validation.Flip{}, flips...), e.Verdict.Shadow.Flips...)
	}
	if len(flips) > 0 {
		var lines []string
		for i, f := range flips {
			if i == 10 {
				lines = append(lines, fmt.Sprintf("… and %d more in the report", len(flips)-10))
				break
			}
			lines = append(lines, fmt.Sprintf("%s %q: champion %s, challenger %s", f.ID, f.Message, f.Champion, f.Challenger))
		}
		msg += "\n  " + strings.Join(lines, "\n  ")
	}
	return msg
}

// Validate is the gate: it asks the challenger (the source environment's
// endpoint, which serves exactly the verified version) and the champion
// (this environment's endpoint) the evaluation set, replays recorded
// production requests to the challenger, and keeps the verdict.
type Validate struct{}

// Name implements Stage.
func (Validate) Name() string { return "validate" }

// Run implements Stage.
func (Validate) Run(ctx context.Context, s *State) error {
	policy := s.Config.Bundle.Validation
	if policy == nil {
		return fmt.Errorf("the bundle declares no validation policy: declare the variables %s, %s and %s",
			bundle.VarValidationMinRecall, bundle.VarValidationShadow, bundle.VarValidationWarehouse)
	}
	set, err := validation.LoadSet(filepath.Join(s.Root, EvaluationSetPath))
	if err != nil {
		return err
	}
	src, err := s.connect(ctx, s.Source.Env)
	if err != nil {
		return err
	}
	srcCfg, err := s.LoadConfig(s.Source.Env, src.User)
	if err != nil {
		return err
	}
	challenger, err := servedChallenger(ctx, src.W.ServingEndpoints, s.Source.Env, srcCfg.Endpoint.Name, s.SourceVersion.Name, s.SourceVersion.Version)
	if err != nil {
		return err
	}
	champion, err := servedChampion(ctx, s.Client.W.ServingEndpoints, s.Config.Env.Name(), s.Config.Endpoint.Name)
	if err != nil {
		return err
	}
	s.Printf("   challenger: %s\n", challenger)
	messages := make([]string, len(set.Cases))
	for i, c := range set.Cases {
		messages[i] = c.Message
	}
	tag := s.Release.Tag
	if champion != nil {
		s.Printf("   champion:   %s\n", champion)
	} else {
		s.Printf("   champion:   none (%s serves nothing yet): judged by the bundle's floor alone\n", s.Config.Endpoint.Name)
	}
	// The two are different endpoints: asked side by side, the gate takes
	// as long as the slower one.
	var challengerAnswers, championAnswers []validation.Answer
	var challengerErr, championErr error
	var wg conc.WaitGroup
	wg.Go(func() {
		challengerAnswers, challengerErr = ask(ctx, src.W.ServingEndpoints, challenger, messages, tag+"-challenger")
	})
	if champion != nil {
		wg.Go(func() {
			championAnswers, championErr = ask(ctx, s.Client.W.ServingEndpoints, *champion, messages, tag+"-champion")
		})
	}
	wg.Wait()
	if err := errors.Join(challengerErr, championErr); err != nil {
		return err
	}
	verdict, err := validation.Judge(set, challengerAnswers, championAnswers, validation.Policy{MinInterruptRecall: policy.MinInterruptRecall})
	if err != nil {
		return err
	}
	verdict.AddShadow(s.shadow(ctx, policy, src, challenger, champion))
	verdict.At = s.Clock.Now().UTC()

	vr := ValidationRecord{Env: s.Config.Env.Name(), Release: tag, Challenger: challenger, Champion: champion, By: s.actor(), Verdict: verdict}
	if vr.Report, err = s.writeValidationReport(vr); err != nil {
		return err
	}
	if err := s.keepVerdict(ctx, src, srcCfg, vr); err != nil {
		return err
	}
	s.Printf("   %s\n", verdict.Summary())
	s.Printf("   report: %s\n", vr.Report)
	if !verdict.Passed {
		return &ValidationFailedError{Release: tag, Verdict: verdict}
	}
	return nil
}

// servedChallenger checks that the source environment's endpoint serves
// exactly the version its record verified, all traffic.
func servedChallenger(ctx context.Context, api serving.ServingEndpointsInterface, env, endpoint, model, version string) (ServedVersion, error) {
	ep, err := api.GetByName(ctx, endpoint)
	if err != nil {
		return ServedVersion{}, fmt.Errorf("challenger: endpoint %s in %s: %w", endpoint, env, err)
	}
	if !servesOnly(ep, model, version) {
		return ServedVersion{}, fmt.Errorf("challenger: %s's endpoint %s serves %s, not %s v%s at 100%%: the gate asks the version %s verified; re-run deploy:%s",
			env, endpoint, DescribeTraffic(EndpointSnapshot(ep)), model, version, env, env)
	}
	return ServedVersion{Env: env, Endpoint: endpoint, Served: ep.Config.ServedEntities[0].Name, Model: model, Version: version}, nil
}

// servedChampion is what env's endpoint serves to all traffic: nil when
// the endpoint does not exist or serves nothing (a first release). A
// canary in progress has no single champion, so the gate waits for it.
func servedChampion(ctx context.Context, api serving.ServingEndpointsInterface, env, endpoint string) (*ServedVersion, error) {
	ep, err := api.GetByName(ctx, endpoint)
	if errors.Is(err, apierr.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("champion: endpoint %s in %s: %w", endpoint, env, err)
	}
	snap := EndpointSnapshot(ep)
	switch {
	case len(snap.ServedEntities) == 0:
		return nil, nil
	case len(snap.ServedEntities) > 1:
		return nil, fmt.Errorf("champion: %s's endpoint %s serves %s: a rollout is in progress, so there is no one champion to compare with; validate once it has ended",
			env, endpoint, DescribeTraffic(snap))
	}
	e := snap.ServedEntities[0]
	return &ServedVersion{Env: env, Endpoint: endpoint, Served: e.Name, Model: e.EntityName, Version: e.EntityVersion}, nil
}

// ask sends the messages to one served version in batches and returns its
// answers in order. Every request carries a client_request_id starting
// with ValidationRequestPrefix.
func ask(ctx context.Context, q verify.Querier, v ServedVersion, messages []string, label string) ([]validation.Answer, error) {
	answers := make([]validation.Answer, 0, len(messages))
	for start := 0; start < len(messages); start += validationBatch {
		end := min(start+validationBatch, len(messages))
		records := make([]any, 0, end-start)
		for i := start; i < end; i++ {
			records = append(records, map[string]any{"thread_id": fmt.Sprintf("%s%d", ValidationRequestPrefix, i+1), "message": messages[i]})
		}
		resp, err := q.Query(ctx, serving.QueryEndpointInput{
			Name: v.Endpoint, DataframeRecords: records,
			ClientRequestId: fmt.Sprintf("%s%s-%d", ValidationRequestPrefix, label, start/validationBatch+1),
		})
		if err != nil {
			return nil, fmt.Errorf("ask %s: %s", v, servingmetrics.DescribeError(err))
		}
		if resp.ServedModelName != "" && resp.ServedModelName != v.Served {
			return nil, fmt.Errorf("ask %s: answered by %s: the endpoint's traffic changed while the gate ran; validate again", v, resp.ServedModelName)
		}
		if len(resp.Predictions) != len(records) {
			return nil, fmt.Errorf("ask %s: %d predictions for %d records", v, len(resp.Predictions), len(records))
		}
		for _, raw := range resp.Predictions {
			a, err := answerOf(raw)
			if err != nil {
				return nil, fmt.Errorf("ask %s: %w", v, err)
			}
			answers = append(answers, a)
		}
	}
	return answers, nil
}

// answerOf reads one prediction of the serving contract.
func answerOf(raw any) (validation.Answer, error) {
	p, err := verify.DecodePrediction(raw)
	if err != nil {
		return validation.Answer{}, err
	}
	return validation.Answer{Status: p.Status, Tool: p.Tool, Risk: p.Risk, Interrupted: p.Interrupt != nil}, nil
}

// writeValidationReport writes verdict.json and report.md under
// artifacts/validation/<env>/ and appends the report to the GitHub step
// summary.
func (s *State) writeValidationReport(vr ValidationRecord) (string, error) {
	dir := filepath.Join(s.Artifacts, "validation", s.Config.Env.Name())
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("validation report: %w", err)
	}
	raw, err := json.MarshalIndent(vr, "", "  ")
	if err != nil {
		return "", fmt.Errorf("validation report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "verdict.json"), append(raw, '\n'), 0o600); err != nil {
		return "", fmt.Errorf("validation report: %w", err)
	}
	var md strings.Builder
	title := fmt.Sprintf("Validation of %s for %s", vr.Release, vr.Env)
	if err := vr.Verdict.WriteMarkdown(&md, title); err != nil {
		return "", err
	}
	fmt.Fprintf(&md, "\nChallenger: %s. Champion: %s.\n", vr.Challenger, describeChampion(vr.Champion))
	path := filepath.Join(dir, "report.md")
	if err := os.WriteFile(path, []byte(md.String()), 0o600); err != nil {
		return "", fmt.Errorf("validation report: %w", err)
	}
	s.appendStepSummary(md.String())
	return path, nil
}

func describeChampion(v *ServedVersion) string {
	if v == nil {
		return "none (first release)"
	}
	return v.String()
}

// keepVerdict attaches the verdict to the source environment's record of
// the release, with the source's credentials: that record names the version
// the verdict is about, and deploy:<env> reads it there.
func (s *State) keepVerdict(ctx context.Context, src *workspace.Client, cfg *EnvConfig, vr ValidationRecord) error {
	_, err := s.journal(src, cfg).Update(ctx, s.Source.ID, func(r *release.Record) error {
		return r.Attach(AttachValidation, vr)
	})
	if err != nil {
		return fmt.Errorf("keep the verdict on %s's record %s: %w", s.Source.Env, s.Source.ID, err)
	}
	return nil
}

// validationAge renders how old a verdict is, for plan and status.
func validationAge(now, at time.Time) string {
	if at.IsZero() {
		return "at an unknown time"
	}
	return "at " + at.Format(time.RFC3339) + " (" + now.Sub(at).Round(time.Minute).String() + " ago)"
}

// ValidationOverride is a deploy that went ahead without a passing verdict:
// who decided it, why, and what the gate had said.
type ValidationOverride struct {
	By     string    `json:"by"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
	// Problem is what the gate found: no verdict, a failed one, or one
	// about another version or evaluation set.
	Problem string `json:"problem"`
}

// ValidationGate is what a production deploy relied on: a passing verdict,
// or an override. The deploy record keeps it under AttachValidation.
type ValidationGate struct {
	Verdict  *ValidationRecord   `json:"verdict,omitempty"`
	Override *ValidationOverride `json:"override,omitempty"`
}

// ValidationRequiredError refuses a production deploy whose version has no
// passing verdict.
type ValidationRequiredError struct {
	Env, Release, Model, Version, Problem string
}

func (e *ValidationRequiredError) Error() string {
	return fmt.Sprintf("deploy:%s refuses %s (%s v%s): %s. Nothing was changed. Run `mage validate %s` to judge it against what %s serves, "+
		"or deploy with -override=\"<why>\" to go ahead anyway (who and why are kept in the release record and sent with the notifications)",
		e.Env, e.Release, e.Model, e.Version, e.Problem, e.Env, e.Env)
}

// CheckValidation refuses a production deploy unless the gate passed the
// exact version being promoted, on today's evaluation set; an explicit
// -override lets it through and is recorded.
type CheckValidation struct{}

// Name implements Stage.
func (CheckValidation) Name() string { return "validation" }

// Run implements Stage.
func (CheckValidation) Run(ctx context.Context, s *State) error {
	if s.Config.Bundle.Validation == nil {
		return Skip("the bundle declares no validation policy")
	}
	if !s.Config.Env.Production() {
		return Skip("%s is not production: the gate guards production deploys", s.Config.Env)
	}
	if s.Source == nil || s.SourceVersion == nil {
		return fmt.Errorf("no source version to check")
	}
	vr, problem := s.sourceVerdict()
	if problem == "" {
		s.validationGate = &ValidationGate{Verdict: vr}
		s.Printf("   passed %s: %s\n", validationAge(s.Clock.Now(), vr.Verdict.At), vr.Verdict.Summary())
		return nil
	}
	if reason := strings.TrimSpace(s.Opts.ValidationOverride); reason != "" {
		o := &ValidationOverride{By: s.actor(), Reason: reason, At: s.Clock.Now().UTC(), Problem: problem}
		if gh := s.Getenv("GITHUB_ACTOR"); gh != "" {
			o.By += " (GitHub: " + gh + ")"
		}
		s.validationGate = &ValidationGate{Verdict: vr, Override: o}
		s.Printf("   %s\n", s.paint(color.FgYellow, fmt.Sprintf("OVERRIDDEN by %s: %s (the gate: %s)", o.By, reason, problem)))
		return nil
	}
	return &ValidationRequiredError{Env: s.Config.Env.Name(), Release: s.Release.Tag, Model: s.SourceVersion.Name, Version: s.SourceVersion.Version, Problem: problem}
}

// sourceVerdict reads the verdict on the source record and says what, if
// anything, keeps it from letting this deploy through.
func (s *State) sourceVerdict() (*ValidationRecord, string) {
	var vr ValidationRecord
	ok, err := s.Source.Attachment(AttachValidation, &vr)
	switch {
	case err != nil:
		return nil, fmt.Sprintf("the verdict on %s's record %s is unreadable: %v", s.Source.Env, s.Source.ID, err)
	case !ok || vr.Verdict == nil:
		return nil, fmt.Sprintf("%s's record %s carries no validation verdict", s.Source.Env, s.Source.ID)
	case vr.Env != s.Config.Env.Name():
		return &vr, fmt.Sprintf("the verdict judged it for %s, not %s", vr.Env, s.Config.Env)
	case vr.Challenger.Model != s.SourceVersion.Name || vr.Challenger.Version != s.SourceVersion.Version:
		return &vr, fmt.Sprintf("the verdict is about %s v%s", vr.Challenger.Model, vr.Challenger.Version)
	case !vr.Verdict.Passed:
		return &vr, "it failed validation " + validationAge(s.Clock.Now(), vr.Verdict.At) + ": " + strings.Join(vr.Verdict.Reasons, "; ")
	}
	set, err := validation.LoadSet(filepath.Join(s.Root, EvaluationSetPath))
	if err != nil {
		return &vr, err.Error()
	}
	if set.Digest != vr.Verdict.Set {
		return &vr, fmt.Sprintf("the evaluation set changed since it was validated (%s then, %s now)", vr.Verdict.Set, set.Digest)
	}
	return &vr, ""
}

// attachValidationGate keeps what the deploy relied on in its record.
func (s *State) attachValidationGate() error {
	if s.validationGate == nil || s.Record == nil {
		return nil
	}
	return s.Record.Attach(AttachValidationGate, s.validationGate)
}

// validationDetail is the gate's line in notifications.
func (s *State) validationDetail() (notify.Detail, bool) {
	g := s.validationGate
	switch {
	case g == nil:
		return notify.Detail{}, false
	case g.Override != nil:
		return notify.Detail{Key: "Validation", Value: fmt.Sprintf("OVERRIDDEN by %s: %s (the gate: %s)", g.Override.By, g.Override.Reason, g.Override.Problem)}, true
	default:
		return notify.Detail{Key: "Validation", Value: g.Verdict.Verdict.Summary()}, true
	}
}

// planValidation shows the gate in a production plan: the verdict the
// deploy would rely on, or why it would refuse. The text holds no clock
// reading, so a saved plan compares equal while nothing changed.
func (s *State) planValidation(p *PlanReport) {
	if s.Config.Bundle.Validation == nil || !s.Config.Env.Production() || s.Source == nil || s.SourceVersion == nil {
		return
	}
	vr, problem := s.sourceVerdict()
	switch {
	case problem == "":
		p.Notes = append(p.Notes, fmt.Sprintf("validation: %s v%s passed on %s: %s", vr.Challenger.Model, vr.Challenger.Version, vr.Verdict.At.Format(time.RFC3339), vr.Verdict.Summary()))
	case strings.TrimSpace(s.Opts.ValidationOverride) != "":
		p.Notes = append(p.Notes, fmt.Sprintf("validation: overridden (%s): %s", strings.TrimSpace(s.Opts.ValidationOverride), problem))
	default:
		p.Blocks = append(p.Blocks, fmt.Sprintf("validation: %s; run `mage validate %s`, or deploy with -override=\"<why>\"", problem, s.Config.Env))
	}
}

// describeValidation is a record's validation line for status: the verdict
// a source record carries, or what a production deploy relied on.
func describeValidation(rec *release.Record) string {
	var g ValidationGate
	if ok, err := rec.Attachment(AttachValidationGate, &g); ok && err == nil {
		switch {
		case g.Override != nil:
			return fmt.Sprintf("OVERRIDDEN by %s at %s: %s (the gate: %s)", g.Override.By, g.Override.At.Format(time.RFC3339), g.Override.Reason, g.Override.Problem)
		case g.Verdict != nil && g.Verdict.Verdict != nil:
			return "relied on " + g.Verdict.Verdict.Summary()
		}
	}
	var vr ValidationRecord
	if ok, err := rec.Attachment(AttachValidation, &vr); ok && err == nil && vr.Verdict != nil {
		return fmt.Sprintf("for %s against %s at %s: %s", vr.Env, describeChampion(vr.Champion), vr.Verdict.At.Format(time.RFC3339), vr.Verdict.Summary())
	}
	return ""
}
