// Package insights computes the four DORA measures of software delivery
// (deployment frequency, lead time for changes, change failure rate, time
// to restore service) for each environment from its release records and
// the release tags' commits, with the canary outcomes and the mean time
// each deploy stage takes. It reads nothing itself: the caller hands it the
// records and the commit times, so the numbers follow from the journal
// alone. Render writes the report as JSON, Markdown and an HTML page whose
// charts are inline SVG.
//
// The definitions, for one environment and a window:
//
//   - a deployment is a deploy record that reached its environment's
//     traffic: prod's stable, verified or later rolled back, aborted
//     canaries excluded; other environments' deployed or verified ones;
//   - lead time is from the first commit of the release (the oldest commit
//     after the previous release tag) to the deployment's end;
//   - a failure is an aborted canary, a deployment later rolled back, or a
//     failed verification; the change failure rate is failures over
//     deployments plus aborted canaries (each a change that reached
//     traffic);
//   - time to restore is from the failure's start (the canary's start; the
//     rolled-back deployment's end; the failed verification) to the next
//     moment the environment served a healthy release: the abort's end, the
//     rollback's end, or the next deployment.
//
// An empty window reports no value, never a zero that looks like data.
package insights

import (
	"encoding/json"
	"sort"
	"time"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
)

// Input is what a report is computed from.
type Input struct {
	// Records are each environment's release records.
	Records map[string][]*release.Record
	// FirstCommit is, per release tag, the time of its first commit (the
	// oldest commit after the previous release tag).
	FirstCommit map[string]time.Time
	// Since and Until bound the window.
	Since, Until time.Time
	// Unread names the environments whose records could not be read, and why.
	Unread map[string]string
}

// Report is the computed report.
type Report struct {
	Since        time.Time         `json:"since"`
	Until        time.Time         `json:"until"`
	Environments []Environment     `json:"environments"`
	Unread       map[string]string `json:"unread,omitempty"`
}

// Environment is one environment's measures.
type Environment struct {
	Env string `json:"env"`
	// Deployments are the deployments in the window, oldest first.
	Deployments []Deployment `json:"deployments"`
	// Failures are the failed changes in the window, oldest first.
	Failures []Failure `json:"failures"`
	// PerWeek is deployments per week (nil without a deployment).
	PerWeek *float64 `json:"deployments_per_week,omitempty"`
	// LeadTime is the median lead time (nil when no deployment has one).
	LeadTime *Duration `json:"median_lead_time,omitempty"`
	// Changes are the changes that reached traffic: deployments and
	// aborted canaries. FailureRate is failures over changes (nil without
	// a change).
	Changes     int      `json:"changes"`
	FailureRate *float64 `json:"change_failure_rate,omitempty"`
	// Restore is the median time to restore (nil without a restored failure).
	Restore *Duration `json:"median_time_to_restore,omitempty"`
	// Bands rate each measure (see Band).
	Bands Bands `json:"bands"`
	// Canary counts canary outcomes: promoted, and aborts by cause.
	Canary map[string]int `json:"canary,omitempty"`
	// StageMeans is the mean duration of each deploy stage that ran.
	StageMeans map[string]Duration `json:"stage_means,omitempty"`
}

// Deployment is one deployment.
type Deployment struct {
	Record  string    `json:"record"`
	Release string    `json:"release"`
	At      time.Time `json:"at"`
	// LeadTime is nil when the release's first commit is unknown.
	LeadTime *Duration `json:"lead_time,omitempty"`
}

// Failure is one failed change.
type Failure struct {
	Record  string    `json:"record"`
	Release string    `json:"release"`
	Kind    string    `json:"kind"` // aborted canary, rolled back, verification failed
	Start   time.Time `json:"start"`
	// Restored is when a healthy release served again; nil while not.
	Restored *time.Time `json:"restored,omitempty"`
	Restore  *Duration  `json:"time_to_restore,omitempty"`
}

// Duration is a time.Duration that encodes as seconds and a text.
type Duration time.Duration

// MarshalJSON encodes the duration as {"seconds": n, "text": "1h2m"}.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Seconds float64 `json:"seconds"`
		Text    string  `json:"text"`
	}{time.Duration(d).Seconds(), time.Duration(d).Round(time.Second).String()})
}

func dur(d time.Duration) *Duration { x := Duration(d); return &x }

// The failure kinds.
const (
	KindAborted      = "aborted canary"
	KindRolledBack   = "rolled back"
	KindVerifyFailed = "verification failed"
)

// Compute computes the report.
func Compute(in Input) Report {
	r := Report{Since: in.Since, Until: in.Until, Unread: in.Unread}
	envs := make([]string, 0, len(in.Records))
	for env := range in.Records {
		envs = append(envs, env)
	}
	sort.Slice(envs, func(i, j int) bool { return envOrder(envs[i]) < envOrder(envs[j]) })
	for _, env := range envs {
		r.Environments = append(r.Environments, computeEnv(env, in))
	}
	return r
}

func envOrder(env string) string {
	switch env {
	case "dev":
		return "0"
	case "staging":
		return "1"
	case "prod":
		return "2"
	}
	return "3" + env
}

func inWindow(t time.Time, in Input) bool {
	return !t.Before(in.Since) && !t.After(in.Until)
}

// deployedAt is when a deploy record's release reached its environment's
// traffic, or zero when it did not.
func deployedAt(env string, rec *release.Record) time.Time {
	if rec.Kind != release.KindDeploy || rec.Finished == nil {
		return time.Time{}
	}
	switch rec.Outcome {
	case release.OutcomeStable, release.OutcomeVerified, release.OutcomeRolledBack, release.OutcomeVerifyFailed:
		return *rec.Finished
	case release.OutcomeDeployed:
		if env != "prod" {
			return *rec.Finished
		}
	}
	return time.Time{}
}

func computeEnv(env string, in Input) Environment {
	e := Environment{Env: env, Canary: map[string]int{}, StageMeans: map[string]Duration{}}
	recs := append([]*release.Record(nil), in.Records[env]...)
	sort.Slice(recs, func(i, j int) bool { return recs[i].Started.Before(recs[j].Started) })

	// Healthy moments: when a healthy release served again.
	var healthy []time.Time
	rolledBackBy := map[string]time.Time{} // record id -> the rollback's end
	for _, rec := range recs {
		if rec.Finished == nil {
			continue
		}
		switch {
		case rec.Kind == release.KindRollback && rec.Good():
			healthy = append(healthy, *rec.Finished)
			var sum struct {
				FromID string `json:"from_record"`
			}
			if ok, _ := rec.Attachment("rollback", &sum); ok && sum.FromID != "" {
				rolledBackBy[sum.FromID] = *rec.Finished
			}
		case rec.Kind == release.KindDeploy && rec.Outcome == release.OutcomeAborted:
			healthy = append(healthy, *rec.Finished) // stable serves 100% again
		case rec.Kind == release.KindDeploy && (rec.Good() || rec.Outcome == release.OutcomeRolledBack):
			healthy = append(healthy, *rec.Finished) // a rolled-back release served healthily at first
		case rec.Kind == release.KindDeploy && rec.Outcome == release.OutcomeDeployed && env != "prod":
			healthy = append(healthy, *rec.Finished)
		}
	}
	sort.Slice(healthy, func(i, j int) bool { return healthy[i].Before(healthy[j]) })
	nextHealthy := func(after time.Time) *time.Time {
		for _, h := range healthy {
			if h.After(after) {
				h := h
				return &h
			}
		}
		return nil
	}

	stageSum := map[string]time.Duration{}
	stageN := map[string]int{}
	changes := 0
	var leads, restores []time.Duration
	for _, rec := range recs {
		if rec.Kind != release.KindDeploy || !inWindow(rec.Started, in) {
			continue
		}
		for _, st := range rec.Stages {
			if st.Status == release.StageOK {
				stageSum[st.Name] += time.Duration(st.DurationMS) * time.Millisecond
				stageN[st.Name]++
			}
		}
		if at := deployedAt(env, rec); !at.IsZero() {
			changes++
			d := Deployment{Record: rec.ID, Release: rec.Release, At: at}
			if first, ok := in.FirstCommit[rec.Release]; ok && !first.After(at) {
				d.LeadTime = dur(at.Sub(first))
				leads = append(leads, at.Sub(first))
			}
			e.Deployments = append(e.Deployments, d)
			if env == "prod" && rec.Stage("analysis") != nil && rec.Stage("analysis").Status == release.StageOK {
				e.Canary["promoted"]++
			}
		}
		var f *Failure
		switch {
		case rec.Outcome == release.OutcomeAborted && rec.Finished != nil:
			changes++
			start := rec.Started
			if st := rec.Stage("canary"); st != nil {
				start = st.Started
			}
			f = &Failure{Record: rec.ID, Release: rec.Release, Kind: KindAborted, Start: start, Restored: rec.Finished}
			var sum struct {
				Why string `json:"why"`
			}
			why := "aborted"
			if ok, _ := rec.Attachment("abort", &sum); ok && sum.Why != "" {
				why = "aborted: " + sum.Why
			}
			e.Canary[why]++
		case rec.Outcome == release.OutcomeRolledBack && rec.Finished != nil:
			f = &Failure{Record: rec.ID, Release: rec.Release, Kind: KindRolledBack, Start: *rec.Finished}
			if end, ok := rolledBackBy[rec.ID]; ok {
				f.Restored = &end
			} else {
				f.Restored = nextHealthy(*rec.Finished)
			}
		case rec.Outcome == release.OutcomeVerifyFailed && rec.Finished != nil:
			start := *rec.Finished
			if rec.Verify != nil && !rec.Verify.At.IsZero() {
				start = rec.Verify.At
			}
			f = &Failure{Record: rec.ID, Release: rec.Release, Kind: KindVerifyFailed, Start: start, Restored: nextHealthy(start)}
		}
		if f != nil {
			if f.Restored != nil {
				f.Restore = dur(f.Restored.Sub(f.Start))
				restores = append(restores, f.Restored.Sub(f.Start))
			}
			e.Failures = append(e.Failures, *f)
		}
	}
	for name, total := range stageSum {
		e.StageMeans[name] = Duration(total / time.Duration(stageN[name]))
	}
	if len(e.Deployments) > 0 {
		weeks := in.Until.Sub(in.Since).Hours() / (24 * 7)
		if weeks > 0 {
			v := float64(len(e.Deployments)) / weeks
			e.PerWeek = &v
		}
	}
	if m, ok := median(leads); ok {
		e.LeadTime = dur(m)
	}
	e.Changes = changes
	if changes > 0 {
		v := float64(len(e.Failures)) / float64(changes)
		e.FailureRate = &v
	}
	if m, ok := median(restores); ok {
		e.Restore = dur(m)
	}
	e.Bands = bandsOf(e)
	return e
}

// median of durations; false for none.
func median(ds []time.Duration) (time.Duration, bool) {
	if len(ds) == 0 {
		return 0, false
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	n := len(s)
	if n%2 == 1 {
		return s[n/2], true
	}
	return (s[n/2-1] + s[n/2]) / 2, true
}
