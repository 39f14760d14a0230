package servingmetrics

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metric family names of the export.
const (
	FamilyRequests = "request_count_total"
	Family4xx      = "request_4xx_count_total"
	Family5xx      = "request_5xx_count_total"
	FamilyLatency  = "request_latency_ms"
)

// Minute is the length of a gauge window.
const Minute = time.Minute

// entityLabels name the served entity of a series, in order of precedence.
// The export's documentation names no label; these are every spelling seen
// in public integrations and tests: served_model_name (DataDog's serving
// dashboard), served_model (a client's test fixture), served_entity_name
// (the spelling of the endpoints API), entity and served_entity.
var entityLabels = []string{"served_entity_name", "served_model_name", "served_model", "entity", "served_entity"}

// Family is which of the four families a value came from.
type Family int

// The families, as bits of Values.Has.
const (
	Requests Family = 1 << iota
	Errors4xx
	Errors5xx
	Latency
)

var countFamilies = map[string]Family{FamilyRequests: Requests, Family4xx: Errors4xx, Family5xx: Errors5xx}

// Values are one entity's numbers in one window, or its cumulative totals.
type Values struct {
	Requests  float64
	Errors4xx float64
	Errors5xx float64
	Latency   Histogram
	// Has marks the families that reported for this entity.
	Has Family
}

func (v *Values) add(f Family, x float64) {
	switch f {
	case Requests:
		v.Requests += x
	case Errors4xx:
		v.Errors4xx += x
	case Errors5xx:
		v.Errors5xx += x
	}
	v.Has |= f
}

// Reading is one parsed scrape.
type Reading struct {
	// Windows holds the gauge families' samples: per minute (the sample's
	// timestamp truncated to the minute, UTC), per entity.
	Windows map[time.Time]map[string]Values
	// Totals holds the counter families' cumulative values per entity.
	Totals map[string]Values
	// LatencyExported is set when the export has a request_latency_ms family.
	LatencyExported bool
	// Unattributed counts series of the four families that named no served
	// entity; they are in no entity's numbers.
	Unattributed int
}

// Parse reads one scrape of the export, taken at at (the minute of gauge
// samples without a timestamp). See the package documentation.
func Parse(r io.Reader, at time.Time) (Reading, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return Reading{}, fmt.Errorf("parse metrics export: %w", err)
	}
	p := parsing{at: at.UTC().Truncate(Minute), out: Reading{Windows: map[time.Time]map[string]Values{}, Totals: map[string]Values{}}, seen: map[string]bool{}, hists: map[histKey][]rawHist{}}
	names := make([]string, 0, len(families))
	for name := range families {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		mf := families[name]
		var err error
		switch {
		case countFamilies[name] != 0:
			err = p.counts(name, countFamilies[name], mf)
		case name == FamilyLatency:
			p.out.LatencyExported = true
			err = p.histograms(mf)
		case strings.HasPrefix(name, FamilyLatency+"_"):
			err = fmt.Errorf("loose %s samples without a histogram TYPE line", FamilyLatency)
		}
		if err != nil {
			return Reading{}, fmt.Errorf("parse metrics export: family %s: %w", name, err)
		}
	}
	if err := p.settle(); err != nil {
		return Reading{}, fmt.Errorf("parse metrics export: %w", err)
	}
	return p.out, nil
}

type histKey struct {
	minute time.Time // zero: cumulative
	entity string
}

type parsing struct {
	at    time.Time
	out   Reading
	seen  map[string]bool
	hists map[histKey][]rawHist
}

// windowed reports whether a sample of type t belongs to a minute window,
// and which one.
func (p *parsing) windowed(t dto.MetricType, m *dto.Metric) (time.Time, bool) {
	stamped := m.TimestampMs != nil
	switch t {
	case dto.MetricType_GAUGE, dto.MetricType_GAUGE_HISTOGRAM:
	case dto.MetricType_HISTOGRAM, dto.MetricType_UNTYPED:
		if !stamped {
			return time.Time{}, false
		}
	default:
		return time.Time{}, false
	}
	if !stamped {
		return p.at, true
	}
	return time.UnixMilli(m.GetTimestampMs()).UTC().Truncate(Minute), true
}

func (p *parsing) values(minute time.Time, windowed bool, entity string) Values {
	if !windowed {
		return p.out.Totals[entity]
	}
	return p.out.Windows[minute][entity]
}

func (p *parsing) store(minute time.Time, windowed bool, entity string, v Values) {
	if !windowed {
		p.out.Totals[entity] = v
		return
	}
	w := p.out.Windows[minute]
	if w == nil {
		w = map[string]Values{}
		p.out.Windows[minute] = w
	}
	w[entity] = v
}

func (p *parsing) counts(name string, f Family, mf *dto.MetricFamily) error {
	for _, m := range mf.GetMetric() {
		var x float64
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			x = m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			x = m.GetGauge().GetValue()
		case dto.MetricType_UNTYPED:
			x = m.GetUntyped().GetValue()
		default:
			return fmt.Errorf("type %s, want gauge or counter", mf.GetType())
		}
		if err := checkCount(x); err != nil {
			return fmt.Errorf("series {%s}: %w", signature(m, ""), err)
		}
		entity, ok := entityOf(m)
		if !ok {
			p.out.Unattributed++
			continue
		}
		minute, windowed := p.windowed(mf.GetType(), m)
		if err := p.unique(name, minute, m); err != nil {
			return err
		}
		v := p.values(minute, windowed, entity)
		v.add(f, x)
		if math.IsInf(v.Requests+v.Errors4xx+v.Errors5xx, 0) {
			return fmt.Errorf("series of entity %q add up to infinity", entity)
		}
		p.store(minute, windowed, entity, v)
	}
	return nil
}

func (p *parsing) histograms(mf *dto.MetricFamily) error {
	t := mf.GetType()
	if t != dto.MetricType_HISTOGRAM && t != dto.MetricType_GAUGE_HISTOGRAM {
		return fmt.Errorf("type %s, want histogram", t)
	}
	for _, m := range mf.GetMetric() {
		entity, ok := entityOf(m)
		if !ok {
			p.out.Unattributed++
			continue
		}
		minute, windowed := p.windowed(t, m)
		if err := p.unique(FamilyLatency, minute, m); err != nil {
			return err
		}
		h := m.GetHistogram()
		raw := rawHist{sum: h.GetSampleSum()}
		if h.SampleCountFloat != nil {
			c := h.GetSampleCountFloat()
			raw.count = &c
		} else if h.SampleCount != nil {
			c := float64(h.GetSampleCount())
			raw.count = &c
		}
		for _, b := range h.GetBucket() {
			n := float64(b.GetCumulativeCount())
			if b.CumulativeCountFloat != nil {
				n = b.GetCumulativeCountFloat()
			}
			raw.buckets = append(raw.buckets, bucket{bound: b.GetUpperBound(), count: n})
		}
		if !windowed {
			minute = time.Time{}
		}
		k := histKey{minute: minute, entity: entity}
		p.hists[k] = append(p.hists[k], raw)
	}
	return nil
}

// settle normalizes and merges each entity's histogram series.
func (p *parsing) settle() error {
	keys := make([]histKey, 0, len(p.hists))
	for k := range p.hists {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if !keys[i].minute.Equal(keys[j].minute) {
			return keys[i].minute.Before(keys[j].minute)
		}
		return keys[i].entity < keys[j].entity
	})
	for _, k := range keys {
		series := make([]Histogram, 0, len(p.hists[k]))
		for _, raw := range p.hists[k] {
			h, err := raw.normalize()
			if err != nil {
				return fmt.Errorf("%s for entity %q: %w", FamilyLatency, k.entity, err)
			}
			series = append(series, h)
		}
		windowed := !k.minute.IsZero()
		v := p.values(k.minute, windowed, k.entity)
		v.Latency = mergeHistograms(series)
		if math.IsInf(v.Latency.Total, 0) || math.IsInf(v.Latency.Sum, 0) {
			return fmt.Errorf("%s series of entity %q add up to infinity", FamilyLatency, k.entity)
		}
		v.Has |= Latency
		p.store(k.minute, windowed, k.entity, v)
	}
	return nil
}

func (p *parsing) unique(family string, minute time.Time, m *dto.Metric) error {
	key := family + "\xff" + minute.String() + "\xff" + signature(m, "")
	if p.seen[key] {
		return fmt.Errorf("duplicate series {%s}", signature(m, ""))
	}
	p.seen[key] = true
	return nil
}

func checkCount(v float64) error {
	switch {
	case math.IsNaN(v), math.IsInf(v, 0):
		return fmt.Errorf("value %v is not a finite count", v)
	case v < 0:
		return fmt.Errorf("negative count %v", v)
	}
	return nil
}

func entityOf(m *dto.Metric) (string, bool) {
	for _, name := range entityLabels {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == name && lp.GetValue() != "" {
				return lp.GetValue(), true
			}
		}
	}
	return "", false
}

// signature renders a series' labels in name order, leaving out ignore.
func signature(m *dto.Metric, ignore string) string {
	pairs := make([]string, 0, len(m.GetLabel()))
	for _, lp := range m.GetLabel() {
		if lp.GetName() == ignore {
			continue
		}
		pairs = append(pairs, lp.GetName()+"="+strconv.Quote(lp.GetValue()))
	}
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}
