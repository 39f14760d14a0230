package insights

import (
	"math"
	"time"
)

// Band is a DORA performance level.
type Band string

// The levels, and "" for a measure with no value.
const (
	Elite  Band = "elite"
	High   Band = "high"
	Medium Band = "medium"
	Low    Band = "low"
)

// Bands rate each measure on its own.
type Bands struct {
	Frequency   Band `json:"deployment_frequency,omitempty"`
	LeadTime    Band `json:"lead_time,omitempty"`
	FailureRate Band `json:"change_failure_rate,omitempty"`
	Restore     Band `json:"time_to_restore,omitempty"`
}

// BandSource names the published thresholds the bands read.
const BandSource = "DORA, Accelerate State of DevOps Report 2024: software delivery performance levels"

// The 2024 report's levels, read one measure at a time:
//
//	deployment frequency: elite on demand (several a day); high between
//	  once a day and once a week; medium between once a week and once a
//	  month; low between once a month and once every six months
//	lead time: elite under a day; high one day to one week; medium one week
//	  to one month; low one to six months
//	failed deployment recovery: elite under an hour; high and medium under
//	  a day; low one week to one month
//	change failure rate: elite 5%, high 20%, medium 10%, low 40%
//
// The report's levels are clusters of teams, not thresholds of each
// measure: a measure between two levels takes the lower one here, and the
// change failure rate, whose levels are not ordered (medium 10% below high
// 20%), takes the level whose value is nearest (ties to the lower rate).
func bandsOf(e Environment) Bands {
	var b Bands
	if e.PerWeek != nil {
		perDay := *e.PerWeek / 7
		switch {
		case perDay >= 1:
			b.Frequency = Elite
		case *e.PerWeek >= 1:
			b.Frequency = High
		case *e.PerWeek >= 12.0/52:
			b.Frequency = Medium
		default:
			b.Frequency = Low
		}
	}
	if e.LeadTime != nil {
		d := time.Duration(*e.LeadTime)
		switch {
		case d < 24*time.Hour:
			b.LeadTime = Elite
		case d <= 7*24*time.Hour:
			b.LeadTime = High
		case d <= 31*24*time.Hour:
			b.LeadTime = Medium
		default:
			b.LeadTime = Low
		}
	}
	if e.Restore != nil {
		d := time.Duration(*e.Restore)
		switch {
		case d < time.Hour:
			b.Restore = Elite
		case d < 24*time.Hour:
			b.Restore = High
		default:
			b.Restore = Low
		}
	}
	if e.FailureRate != nil {
		levels := []struct {
			band Band
			rate float64
		}{{Elite, 0.05}, {Medium, 0.10}, {High, 0.20}, {Low, 0.40}}
		best, dist := Low, math.Inf(1)
		for _, l := range levels {
			if d := math.Abs(*e.FailureRate - l.rate); d < dist-1e-12 {
				best, dist = l.band, d
			}
		}
		b.FailureRate = best
	}
	return b
}
