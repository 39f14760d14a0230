// Package demo is `mage demo`: the whole release story told against three
// emulated workspaces (dev, staging, prod: emulator.StartWorkspaces) running
// in this process, so a newcomer sees the pipeline work without a
// Databricks workspace.
//
// The story, in a temporary git repository holding a copy of the
// project's bundle whose targets point at their own workspaces; every step
// gets each environment's credentials as DATABRICKS_HOST_<ENV> and
// DATABRICKS_TOKEN_<ENV>, as a CI job holding all three would:
//
//  1. CI: the last `mage ci` result, in one line (or a note to run it).
//  2. v1.0.0 goes dev -> staging -> prod: trained, registered in Unity
//     Catalog and verified in dev; staging and prod, each in a workspace of
//     its own attached to the same metastore, copy the version the
//     environment before verified with their promote job (cd.RouteUCCopy),
//     and the aliases follow what each endpoint serves; prod's first
//     release is served directly.
//  3. v1.1.0 goes the same way; in prod it is a canary at 10% next to
//     v1.0.0, judged interval by interval from the endpoint's metrics
//     export, and rolled out to 100%.
//  4. v1.2.0 passes dev and staging, but in production it answers 20% of
//     requests with errors (the emulator is told so): its canary is
//     aborted automatically and v1.1.0 serves everything again.
//  5. On call rolls prod back to v1.0.0 with `mage rollback prod -to=v1.0.0`.
//  6. A final status table: what every environment serves, and prod's
//     release journal.
//
// Every step runs the real CD code (cd.Deploy, cd.RunVerify, cd.Rollback)
// through the real SDK client over HTTP. Time is scaled: the emulator's
// state machines and the pipeline's clock run at Options.TimeScale (0.01:
// a 2-minute endpoint update takes 1.2 s), and each step shows the service
// time it stands for. Notifications go to a local Slack webhook on
// 127.0.0.1 whose messages are shown as they arrive.
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/fatih/color"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/traffic"
	"github.com/hitl-mlops/interrupt-agent/magefiles/insights"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout"
	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace"
)

// DefaultTimeScale is real time per unit of service time in the demo.
const DefaultTimeScale = 0.01

// Options configure a demo run.
type Options struct {
	// Root is the project whose bundle the demo copies.
	Root string
	// Out receives the story; nil is os.Stdout.
	Out   io.Writer
	Color bool
	// TimeScale is real time per unit of service time, for the emulator and
	// the pipeline's clock; 0 is DefaultTimeScale.
	TimeScale float64
	// Instant makes the emulator's state machines finish by the next read
	// and the pipeline's clock run 10,000 times faster than real time, for
	// tests: the story without the waiting.
	Instant bool
	// Dir holds the temporary repository; default a new temporary folder,
	// removed at the end unless Keep is set.
	Dir  string
	Keep bool
	// ReportDir receives the delivery report of the story's history;
	// default <Root>/artifacts (the report goes under report/), which
	// outlives the temporary repository.
	ReportDir string
}

// Durations of the emulator's state machines in the demo, in service
// time: shorter than the real service's so the story fits in two minutes.
var Durations = emulator.Durations{
	EndpointUpdate:    2 * time.Minute,
	TrafficUpdate:     10 * time.Second,
	RunPending:        10 * time.Second,
	RunDuration:       time.Minute,
	ModelRegistration: 20 * time.Second,
}

// Vars are the demo's bundle variable overrides: a short load test (it runs
// in real time), a prod canary of at most 5 minutes of service time, and
// the emulator's SQL warehouse, so the validation gate replays what prod
// answered.
var Vars = map[string]string{
	"load_duration": "1s", "load_concurrency": "2",
	"canary_max_duration": "5m", "min_requests": "100",
	"validation_warehouse_id": emulator.DefaultWarehouseID,
}

// BadErrorRate is the share of production requests v1.2.0 fails.
const BadErrorRate = 0.2

// Result is what the demo did.
type Result struct {
	// Wall is the demo's real duration; Service the time it stands for.
	Wall, Service time.Duration
	Steps         []Step
	// Status is what each environment serves at the end.
	Status map[string]*cd.StatusReport
	// Journal is prod's release journal at the end, oldest first.
	Journal []*release.Record
	// Slack are the notifications the local webhook received (headlines).
	Slack []string
	// Dir is the temporary repository (gone unless Options.Keep).
	Dir string
	// Report is the delivery report of the story's history, and Files
	// where it was written.
	Report      insights.Report
	ReportFiles insights.Files
}

// Step is one command of the story.
type Step struct {
	Command string
	Err     error
	// Wall is real time, Service the service time it stands for.
	Wall, Service time.Duration
}

// Run tells the story. It fails when a step does not end as the story
// says (v1.2.0's deploy:prod must be aborted, everything else must pass).
func Run(ctx context.Context, o Options) (*Result, error) {
	d, err := setup(o)
	if err != nil {
		return nil, err
	}
	defer d.close()
	res, err := d.story(ctx)
	if res != nil {
		res.Dir = d.repo.dir
	}
	return res, err
}

type demo struct {
	o     Options
	out   io.Writer
	ws    *emulator.Workspaces
	slack *httptest.Server
	heard []string
	mu    sync.Mutex
	repo  *repo
	clock rollout.Clock
	// serviceStart is the clock's time when the demo began.
	serviceStart time.Time
	scale        float64
	start        time.Time
	res          *Result
	tmp          string
	bold         func(string) string
	faint        func(string) string
	green        func(string) string
	red          func(string) string
	yellow       func(string) string
	cyan         func(string) string
	printMu      sync.Mutex
}

func setup(o Options) (*demo, error) {
	if o.Root == "" {
		return nil, errors.New("demo: no project root")
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.TimeScale < 0 {
		return nil, fmt.Errorf("demo: time scale %g must not be negative", o.TimeScale)
	}
	scale, emuScale := o.TimeScale, o.TimeScale
	if scale == 0 {
		scale, emuScale = DefaultTimeScale, DefaultTimeScale
	}
	if o.Instant {
		scale, emuScale = 1e-4, 0 // state machines settle at once; the clock still moves
	}
	d := &demo{o: o, out: o.Out, scale: scale, start: time.Now(), res: &Result{Status: map[string]*cd.StatusReport{}}}
	d.paint(o.Color)
	d.clock = rollout.NewScaledClock(scale)
	if o.Instant {
		// Virtual time that moves only when the pipeline sleeps: the
		// probes' real duration would otherwise span many minutes of the
		// export at this speed, and the canary would read few of them.
		d.clock = traffic.NewClock(nil, "", time.Now(), 0)
	}
	ws, err := emulator.StartWorkspaces(cd.Envs, emulator.Options{
		TimeScale: emuScale, Durations: Durations,
		// A catalog per workspace, each granted read on the one before
		// (dev -> staging -> prod); the legacy registry is disabled.
		CatalogSchema: "human_interrupt_agent",
		// The export's minutes are the pipeline's minutes of service time.
		MetricsClock: d.clock,
		// Model latency the metrics report (slept at the time scale): the
		// canary compares p95 latencies of the model, not of the emulator.
		DefaultBehavior: &emulator.Behavior{Latency: emulator.Latency{Median: 40 * time.Millisecond, P99: 80 * time.Millisecond}},
	})
	if err != nil {
		return nil, fmt.Errorf("demo: start the workspace emulator: %w", err)
	}
	d.ws = ws
	d.slack = httptest.NewServer(http.HandlerFunc(d.slackHook))
	dir := o.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "mage-demo-"); err != nil {
			d.close()
			return nil, err
		}
		d.tmp = dir
	}
	hosts := map[string]string{}
	for _, env := range cd.Envs {
		hosts[env] = ws.Get(env).URL()
	}
	if d.repo, err = newRepo(o.Root, dir, hosts); err != nil {
		d.close()
		return nil, fmt.Errorf("demo: make the release repository: %w", err)
	}
	d.serviceStart = d.clock.Now()
	return d, nil
}

func (d *demo) close() {
	if d.slack != nil {
		d.slack.Close()
	}
	if d.ws != nil {
		_ = d.ws.Close()
	}
	if d.tmp != "" && !d.o.Keep {
		_ = os.RemoveAll(d.tmp)
	}
}

func (d *demo) paint(on bool) {
	mk := func(attrs ...color.Attribute) func(string) string {
		c := color.New(attrs...)
		if on {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
		return func(s string) string { return c.Sprint(s) }
	}
	d.bold, d.faint = mk(color.Bold), mk(color.Faint)
	d.green, d.red, d.yellow, d.cyan = mk(color.FgGreen), mk(color.FgRed), mk(color.FgYellow), mk(color.FgCyan)
}

func (d *demo) printf(format string, args ...any) {
	d.printMu.Lock()
	defer d.printMu.Unlock()
	fmt.Fprintf(d.out, format, args...)
}

// slackHook is the local Slack webhook: it shows each message's headline.
func (d *demo) slackHook(w http.ResponseWriter, r *http.Request) {
	var msg struct {
		Text string `json:"text"`
	}
	_ = json.NewDecoder(r.Body).Decode(&msg)
	d.mu.Lock()
	d.heard = append(d.heard, msg.Text)
	d.mu.Unlock()
	d.printf("      %s %s\n", d.cyan("#releases ▸"), msg.Text)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("ok"))
}

func (d *demo) story(ctx context.Context) (*Result, error) {
	d.printf("%s\n", d.bold("The release story of the human interrupt agent, on a local Databricks workspace"))
	d.printf("%s\n", d.faint(fmt.Sprintf("Three emulated workspaces: dev on %s, staging on %s, prod on %s; time runs %s faster than the real service (a 2-minute endpoint update takes %s).",
		d.ws.Get(cd.EnvDev).URL(), d.ws.Get(cd.EnvStaging).URL(), d.ws.Get(cd.EnvProd).URL(), scaleText(d.scale), wall(2*time.Minute, d.scale))))
	d.printf("%s\n", d.faint("Each step holds every environment's credentials (DATABRICKS_HOST_<ENV>, DATABRICKS_TOKEN_<ENV>); a deploy uses its own, and reads the environment before it with that one's."))
	d.printf("%s\n", d.faint("Release repository: "+d.repo.dir+" (a copy of databricks.yml, resources/, src/ and the integration cases)"))
	d.printf("%s\n\n", d.faint("Notifications go to a local Slack webhook; its messages show as "+d.cyan("#releases ▸")+"."))

	d.chapter("1. CI", "every push runs `go run mage.go ci`: security scans, secrets, unit tests, quality, bundle validation")
	d.printf("   %s\n", ciLine(d.o.Root))

	d.chapter("2. v1.0.0: dev -> staging -> prod", "trained, registered in Unity Catalog and verified in dev; staging and prod are other workspaces on the same metastore, "+
		"so each copies the version the environment before verified (@release_v1_0_0) with its promote job; prod's first release is served directly")
	if err := d.repo.tag("v1.0.0"); err != nil {
		return nil, err
	}
	if err := d.release("v1.0.0", false); err != nil {
		return d.res, err
	}

	d.chapter("3. v1.1.0: a canary that passes", "first the validation gate: staging's v1.1.0 and prod's v1.0.0 answer the 347 labelled evaluation requests, and v1.1.0 replays what prod answered (its inference table, read through the SQL API); "+
		"then prod gets a backup, 10% of traffic goes to v1.1.0 next to v1.0.0, and each minute of the metrics export feeds a sequential test whose false-abort rate is bounded")
	if err := d.next("feat: sharper risk scoring for bulk operations", "v1.1.0"); err != nil {
		return nil, err
	}
	if err := d.release("v1.1.0", true); err != nil {
		return d.res, err
	}

	d.chapter("4. v1.2.0: a bad model caught by its canary",
		fmt.Sprintf("v1.2.0 passes dev and staging, but in production its model raises on %.0f%% of requests, which callers get as 4xx (the emulator is told so); its share of the endpoint's errors far exceeds its share of traffic", BadErrorRate*100))
	if err := d.next("feat: new prompt template", "v1.2.0"); err != nil {
		return nil, err
	}
	for _, env := range []string{cd.EnvDev, cd.EnvStaging} {
		if err := d.pair(ctx, env, "v1.2.0"); err != nil {
			return d.res, err
		}
	}
	prodModel, err := d.model(cd.EnvProd)
	if err != nil {
		return d.res, err
	}
	if err := d.validate(ctx, "v1.2.0"); err != nil {
		return d.res, err
	}
	// v1.2.0 will be prod's third model version.
	d.ws.Get(cd.EnvProd).SetVersionBehavior(prodModel, "3", emulator.Behavior{ErrorRate: BadErrorRate, Latency: emulator.Latency{Median: 40 * time.Millisecond, P99: 80 * time.Millisecond}})
	err = d.step(ctx, "deploy:prod", "v1.2.0", true, func(o cd.Options) error { return cd.Deploy(ctx, o) })
	var abort *rollout.AbortError
	if !errors.As(err, &abort) {
		return d.res, fmt.Errorf("demo: v1.2.0's canary should have been aborted, got: %v", err)
	}
	d.printf("   %s\n", d.green("the canary was aborted automatically: v1.1.0 serves 100% again, the evidence is in the release record"))

	d.chapter("5. Rollback", "on call decides to go back to the last release before the incident: `go run mage.go rollback prod -to=v1.0.0 -yes`")
	if err := d.step(ctx, "rollback prod -to=v1.0.0", "", true, func(o cd.Options) error {
		return cd.Rollback(ctx, o, cd.RollbackTarget{Release: "v1.0.0"})
	}); err != nil {
		return d.res, err
	}

	d.chapter("6. Where things stand", "what `go run mage.go status <env>` reports, and prod's release journal")
	if err := d.finalStatus(ctx); err != nil {
		return d.res, err
	}
	d.chapter("7. Delivery report", "`go run mage.go report`: the four DORA measures per environment from the release records and git (times are the story's service time)")
	if err := d.report(ctx); err != nil {
		return d.res, err
	}
	d.res.Wall = time.Since(d.start)
	d.res.Service = d.clock.Now().Sub(d.serviceStart)
	d.mu.Lock()
	d.res.Slack = append([]string(nil), d.heard...)
	d.mu.Unlock()
	d.printf("\n%s %s of real time for %s of service time.\n", d.bold("Done:"), d.res.Wall.Round(100*time.Millisecond), d.res.Service.Round(time.Second))
	d.printf("Report: %s (open it in a browser)\n", d.res.ReportFiles.HTML)
	d.printf("Next: `go run mage.go -l` lists every target; magefiles/cd/doc.go and magefiles/rollout/doc.go explain the flows.\n")
	return d.res, nil
}

// report computes the delivery report of the story's history into
// Options.ReportDir and prints its Markdown.
func (d *demo) report(ctx context.Context) error {
	var buf bytes.Buffer
	o := d.options(cd.EnvDev, &buf)
	o.ArtifactsDir = d.o.ReportDir
	if o.ArtifactsDir == "" {
		o.ArtifactsDir = filepath.Join(d.o.Root, "artifacts")
	}
	r, files, err := cd.Report(ctx, o, cd.DefaultReportWindow)
	if err != nil {
		return fmt.Errorf("demo: report: %w", err)
	}
	d.res.Report, d.res.ReportFiles = r, files
	var md strings.Builder
	insights.Markdown(&md, r)
	d.printf("%s", indent(md.String(), "   "))
	return nil
}

func (d *demo) chapter(title, text string) {
	d.printf("\n%s\n   %s\n", d.bold("── "+title), d.faint(text))
}

func (d *demo) next(msg, tag string) error {
	if err := d.repo.commit(msg); err != nil {
		return err
	}
	return d.repo.tag(tag)
}

// release takes the tag through dev, staging and prod, verifying each;
// loud shows prod's deploy in full.
func (d *demo) release(tag string, loud bool) error {
	ctx := context.Background()
	for _, env := range []string{cd.EnvDev, cd.EnvStaging} {
		if err := d.pair(ctx, env, tag); err != nil {
			return err
		}
	}
	if err := d.validate(ctx, tag); err != nil {
		return err
	}
	if err := d.step(ctx, "deploy:prod", tag, loud, func(o cd.Options) error { return cd.Deploy(ctx, o) }); err != nil {
		return err
	}
	return d.step(ctx, "verify:prod", tag, false, func(o cd.Options) error { return cd.RunVerify(ctx, o) })
}

// validate runs the validation gate production needs, quietly: the
// release staging serves against what prod serves.
func (d *demo) validate(ctx context.Context, tag string) error {
	return d.step(ctx, "validate prod", tag, false, func(o cd.Options) error { return cd.RunValidate(ctx, o) })
}

// pair deploys and verifies one environment, quietly.
func (d *demo) pair(ctx context.Context, env, tag string) error {
	if err := d.step(ctx, "deploy:"+env, tag, false, func(o cd.Options) error { return cd.Deploy(ctx, o) }); err != nil {
		return err
	}
	return d.step(ctx, "verify:"+env, tag, false, func(o cd.Options) error { return cd.RunVerify(ctx, o) })
}

// step runs one command. A quiet step prints one line (its output only
// when it fails); a loud one streams its output, indented.
func (d *demo) step(ctx context.Context, command, tag string, loud bool, run func(cd.Options) error) error {
	env := strings.TrimPrefix(strings.Fields(command)[0], "deploy:")
	env = strings.TrimPrefix(env, "verify:")
	if strings.HasPrefix(command, "rollback") {
		env = cd.EnvProd
	}
	if f := strings.Fields(command); f[0] == "validate" {
		env = f[1]
	}
	var buf bytes.Buffer
	var out io.Writer = &buf
	label := command
	if tag != "" {
		label += " " + tag
	}
	if loud {
		d.printf("   %s\n", d.bold("$ go run mage.go "+command+yesFlag(command)))
		out = &prefixWriter{d: d, prefix: "   │ "}
	}
	o := d.options(env, out)
	start, sstart := time.Now(), d.clock.Now()
	err := run(o)
	st := Step{Command: label, Err: err, Wall: time.Since(start), Service: d.clock.Now().Sub(sstart)}
	d.res.Steps = append(d.res.Steps, st)
	mark, text := d.green("✓"), ""
	switch {
	case errors.As(err, new(*rollout.AbortError)):
		mark, text = d.yellow("✗"), " canary aborted"
	case err != nil:
		mark = d.red("✗")
		text = " " + firstLine(err.Error())
	}
	d.printf("   %s %-28s %s%s\n", mark, label, d.faint(fmt.Sprintf("%5s real, %8s of service time", st.Wall.Round(100*time.Millisecond), st.Service.Round(time.Second))), text)
	if err != nil && !loud && !errors.As(err, new(*rollout.AbortError)) {
		d.printf("%s", indent(buf.String(), "   │ "))
	}
	return err
}

func yesFlag(command string) string {
	if strings.HasPrefix(command, "rollback") || (strings.HasPrefix(command, "deploy:") && !strings.HasSuffix(command, ":dev")) {
		return " -yes"
	}
	return ""
}

// options are the cd options of one step: every workspace's host and token, the
// demo's clock, approval given, notifications to the local webhook.
func (d *demo) options(env string, out io.Writer) cd.Options {
	no := false
	vars := map[string]string{}
	for k, v := range Vars {
		vars[k] = v
	}
	getenv := d.ws.Env() // DATABRICKS_HOST_<ENV>, DATABRICKS_TOKEN_<ENV>
	getenv["SLACK_WEBHOOK_URL"] = d.slack.URL + "/services/demo"
	return cd.Options{
		Env: env, Root: d.repo.dir, Yes: true, Vars: vars,
		Getenv: func(k string) string { return getenv[k] },
		Out:    out, Color: d.o.Color,
		Stdin: strings.NewReader(""), Interactive: &no,
		ArtifactsDir: filepath.Join(d.repo.dir, "artifacts"),
		Clock:        d.clock,
		Client:       workspace.Options{SkipConfigFile: true, RateLimitPerSecond: 1000},
		LookPath:     func(string) (string, error) { return "", exec.ErrNotFound },
		Canary:       cd.CanaryOptions{Clock: d.clock, Probes: true},
		// Verify reads the export in real time; the instant demo's minutes
		// move only with the pipeline's sleeps, so waiting would not help.
		MetricsSettle: d.settle(),
		Exit:          func(int) {},
	}
}

// settle is how long verify waits for the export to close the run's
// minute: a moment in the instant demo, verify's default otherwise.
func (d *demo) settle() time.Duration {
	if d.o.Instant {
		return time.Millisecond
	}
	return 0
}

// model is an environment's registered model name.
func (d *demo) model(env string) (string, error) {
	s, err := cd.NewState(context.Background(), d.options(env, io.Discard))
	if err != nil {
		return "", err
	}
	c, err := s.LoadConfig(env, d.ws.Get(env).UserName())
	if err != nil {
		return "", err
	}
	return c.Model, nil
}

// finalStatus prints what every environment serves and prod's journal.
func (d *demo) finalStatus(ctx context.Context) error {
	tw := tabwriter.NewWriter(d.out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "   env\tendpoint\tserving\taliases\tlatest record\n")
	for _, env := range cd.Envs {
		st, err := cd.Status(ctx, d.options(env, io.Discard))
		if err != nil {
			return fmt.Errorf("status %s: %w", env, err)
		}
		d.res.Status[env] = st
		latest := "none"
		if st.Latest != nil {
			latest = fmt.Sprintf("%s %s %s", st.Latest.Kind, st.Latest.Release, st.Latest.Outcome)
		}
		name := "(none)"
		if st.Endpoint != nil {
			name = st.Endpoint.Name
		}
		fmt.Fprintf(tw, "   %s\t%s\t%s\t%s\t%s\n", env, name, cd.DescribeTraffic(st.Endpoint), cd.DescribeAliases(st.Aliases), latest)
	}
	d.printMu.Lock()
	err := tw.Flush()
	d.printMu.Unlock()
	if err != nil {
		return err
	}

	w, err := d.ws.Get(cd.EnvProd).WorkspaceClient()
	if err != nil {
		return err
	}
	s, err := cd.NewState(ctx, d.options(cd.EnvProd, io.Discard))
	if err != nil {
		return err
	}
	cfg, err := s.LoadConfig(cd.EnvProd, d.ws.Get(cd.EnvProd).UserName())
	if err != nil {
		return err
	}
	j := &release.Journal{Env: cd.EnvProd, Store: workspace.Files{API: w.Workspace}, Dir: cfg.JournalDir}
	recs, err := j.List(ctx)
	if err != nil {
		return err
	}
	d.res.Journal = recs
	d.printf("\n   prod's release journal (%s):\n", cfg.JournalDir)
	tw = tabwriter.NewWriter(d.out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "   kind\trelease\tmodel\toutcome\tnote\n")
	for _, r := range recs {
		model := ""
		if r.Model != nil {
			model = "v" + r.Model.Version
		}
		fmt.Fprintf(tw, "   %s\t%s\t%s\t%s\t%s\n", r.Kind, r.Release, model, d.outcome(r.Outcome), recordNote(r))
	}
	d.printMu.Lock()
	defer d.printMu.Unlock()
	return tw.Flush()
}

func (d *demo) outcome(o release.Outcome) string {
	switch o {
	case release.OutcomeStable, release.OutcomeVerified:
		return d.green(string(o))
	case release.OutcomeAborted, release.OutcomeFailed:
		return d.red(string(o))
	}
	return d.yellow(string(o))
}

// recordNote is one line about a record: how its canary went, or what a
// rollback replaced.
func recordNote(r *release.Record) string {
	var cp rollout.Checkpoint
	if ok, _ := r.Attachment(rollout.CanaryAttachment, &cp); ok && len(cp.Intervals) > 0 {
		last := cp.Intervals[len(cp.Intervals)-1]
		unit := "minutes"
		if last.Decision.Minutes == 1 {
			unit = "minute"
		}
		return fmt.Sprintf("canary at %d%%: %d %s judged, %s", cp.Intervals[0].Percent, last.Decision.Minutes, unit, strings.ToLower(string(last.Outcome)))
	}
	var rb cd.RollbackSummary
	if ok, _ := r.Attachment(cd.AttachRollback, &rb); ok {
		return "replaced " + rb.From
	}
	if r.Kind == release.KindDeploy && r.Previous == nil {
		return "first release, served directly"
	}
	return ""
}

// ciLine summarizes the last `mage ci` run from artifacts/ci-report.json.
func ciLine(root string) string {
	// #nosec G304 -- artifacts/ci-report.json under the repository root
	raw, err := os.ReadFile(filepath.Join(root, "artifacts", "ci-report.json"))
	if err != nil {
		return "skipped here (it takes minutes): run `go run mage.go ci` for the full table; the demo shows the CD side"
	}
	var rep struct {
		Started time.Time `json:"started"`
		Passed  bool      `json:"passed"`
		Results []struct {
			Status string `json:"status"`
		} `json:"results"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		return "skipped: artifacts/ci-report.json is unreadable; run `go run mage.go ci`"
	}
	counts := map[string]int{}
	for _, r := range rep.Results {
		counts[r.Status]++
	}
	verdict := "passed"
	if !rep.Passed {
		verdict = "FAILED"
	}
	var parts []string
	// The report's statuses are the runner's (pipeline.Status values).
	for _, s := range []struct{ status, label string }{
		{"pass", "passed"}, {"cached", "cached"}, {"skipped", "skipped"},
		{"fail", "failed"}, {"blocked", "blocked"}, {"canceled", "canceled"},
	} {
		if counts[s.status] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s.status], s.label))
		}
	}
	return fmt.Sprintf("last `mage ci` (%s): %s, %d checks (%s); not re-run here", rep.Started.Local().Format("2006-01-02 15:04"), verdict, len(rep.Results), strings.Join(parts, ", "))
}

func scaleText(scale float64) string {
	if scale <= 0 {
		return "instantly"
	}
	return fmt.Sprintf("%gx", 1/scale)
}

func wall(d time.Duration, scale float64) time.Duration {
	return time.Duration(float64(d) * scale).Round(10 * time.Millisecond)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	if len(line) > 160 {
		line = line[:160] + "…"
	}
	return line
}

func indent(text, prefix string) string {
	if text == "" {
		return ""
	}
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// prefixWriter indents a stream line by line.
type prefixWriter struct {
	d       *demo
	prefix  string
	partial []byte
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.d.printf("%s%s\n", w.prefix, w.partial[:i])
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}
