package notify

import (
	"errors"
	"fmt"
	"strings"
)

// Status is the outcome of one channel.
type Status string

// Channel outcomes.
const (
	Sent    Status = "sent"
	Skipped Status = "skipped"
	Failed  Status = "failed"
)

// Result is one channel's outcome. Detail is what was done, why it was
// skipped, or the error; secrets are already masked.
type Result struct {
	Channel string
	Status  Status
	Detail  string
}

// Report is the outcome of one Send.
type Report struct {
	Event   Event
	Results []Result
}

// Failed returns the channels that failed.
func (r Report) Failed() []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Status == Failed {
			out = append(out, res)
		}
	}
	return out
}

// Err joins the failures into one error, or returns nil. Use it only where a
// failed notification should fail the caller; never after a good deploy.
func (r Report) Err() error {
	var errs []error
	for _, res := range r.Failed() {
		errs = append(errs, fmt.Errorf("notify %s: %s", res.Channel, res.Detail))
	}
	return errors.Join(errs...)
}

// String renders the report as an aligned block for the run summary:
//
//	notify Canary aborted: prod v1.2.0
//	  slack      sent     posted
//	  pagerduty  failed   post events: 500 Internal Server Error
//	  email      skipped  set SMTP_HOST, NOTIFY_EMAIL_FROM and NOTIFY_EMAIL_TO to send e-mail
func (r Report) String() string {
	var b strings.Builder
	b.WriteString("notify " + r.Event.Headline() + "\n")
	width := 0
	for _, res := range r.Results {
		width = max(width, len(res.Channel))
	}
	for _, res := range r.Results {
		fmt.Fprintf(&b, "  %-*s  %-7s  %s\n", width, res.Channel, res.Status, oneLine(res.Detail))
	}
	return b.String()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
