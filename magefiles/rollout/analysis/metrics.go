package analysis

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metric family names read from the endpoint's metrics export.
const (
	FamilyRequests = "request_count_total"
	Family4xx      = "request_4xx_count_total"
	Family5xx      = "request_5xx_count_total"
	FamilyLatency  = "request_latency_ms"
)

// entityLabels names the served entity of a series, in order of precedence.
// Keep in step with the package documentation.
var entityLabels = []string{"served_entity_name", "served_model_name", "entity", "served_entity"}

type counterKind int

const (
	kindRequests counterKind = iota
	kind4xx
	kind5xx
)

// counterFamilies maps every accepted counter family name to what it counts.
var counterFamilies = map[string]counterKind{
	FamilyRequests:      kindRequests,
	"request_count":     kindRequests,
	Family4xx:           kind4xx,
	"request_4xx_count": kind4xx,
	Family5xx:           kind5xx,
	"request_5xx_count": kind5xx,
}

// Snapshot is one scrape of the metrics export: cumulative values per served
// entity.
type Snapshot struct {
	Entities map[string]Counters
	// Unattributed counts series of the known families that carried no
	// entity label; they are not part of any entity's numbers.
	Unattributed int
}

// Counters are one entity's cumulative values.
type Counters struct {
	Requests  float64
	Errors4xx float64
	Errors5xx float64
	Latency   Histogram
}

// Histogram is a cumulative latency histogram in milliseconds.
type Histogram struct {
	// Bounds are the finite bucket upper bounds, ascending.
	Bounds []float64
	// Counts[i] is the number of observations <= Bounds[i].
	Counts []float64
	// Total is the number of observations, the +Inf bucket.
	Total float64
	// Sum is the sum of all observations.
	Sum float64
}

// ParseMetrics reads a Prometheus text exposition and returns the request,
// error and latency numbers per served entity. See the package documentation
// for the families, labels and what counts as malformed.
func ParseMetrics(r io.Reader) (Snapshot, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return Snapshot{}, fmt.Errorf("parse metrics export: %w", err)
	}
	acc := newAccumulator()
	// Walk families in name order so errors are deterministic.
	names := make([]string, 0, len(families))
	for name := range families {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := acc.family(name, families[name]); err != nil {
			return Snapshot{}, fmt.Errorf("parse metrics export: family %s: %w", name, err)
		}
	}
	return acc.snapshot()
}

// accumulator gathers series per entity while checking for duplicates.
type accumulator struct {
	counters     map[string]*Counters
	hists        map[string][]rawHist
	loose        map[string]*rawHist // reassembled request_latency_ms_* series by signature
	looseEntity  map[string]string
	seen         map[string]bool // family + signature, to reject duplicate series
	unattributed int
}

func newAccumulator() *accumulator {
	return &accumulator{
		counters:    map[string]*Counters{},
		hists:       map[string][]rawHist{},
		loose:       map[string]*rawHist{},
		looseEntity: map[string]string{},
		seen:        map[string]bool{},
	}
}

func (a *accumulator) entity(name string) *Counters {
	c := a.counters[name]
	if c == nil {
		c = &Counters{}
		a.counters[name] = c
	}
	return c
}

func (a *accumulator) family(name string, mf *dto.MetricFamily) error {
	if kind, ok := counterFamilies[name]; ok {
		return a.counterFamily(name, kind, mf)
	}
	switch name {
	case FamilyLatency:
		return a.histogramFamily(mf)
	case FamilyLatency + "_bucket", FamilyLatency + "_count", FamilyLatency + "_sum":
		return a.looseFamily(strings.TrimPrefix(name, FamilyLatency+"_"), mf)
	}
	return nil // not ours
}

func (a *accumulator) counterFamily(name string, kind counterKind, mf *dto.MetricFamily) error {
	for _, m := range mf.GetMetric() {
		v, err := scalar(mf.GetType(), m)
		if err != nil {
			return err
		}
		ent, ok := entityOf(m)
		if !ok {
			a.unattributed++
			continue
		}
		if err := a.unique(name, m, ""); err != nil {
			return err
		}
		c := a.entity(ent)
		switch kind {
		case kindRequests:
			c.Requests += v
		case kind4xx:
			c.Errors4xx += v
		case kind5xx:
			c.Errors5xx += v
		}
	}
	return nil
}

func (a *accumulator) histogramFamily(mf *dto.MetricFamily) error {
	t := mf.GetType()
	if t != dto.MetricType_HISTOGRAM && t != dto.MetricType_GAUGE_HISTOGRAM {
		return fmt.Errorf("type %s, want histogram", t)
	}
	for _, m := range mf.GetMetric() {
		ent, ok := entityOf(m)
		if !ok {
			a.unattributed++
			continue
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
		a.entity(ent) // an entity with latency only still exists
		a.hists[ent] = append(a.hists[ent], raw)
	}
	return nil
}

// looseFamily collects request_latency_ms_{bucket,count,sum} samples that
// arrived without a histogram TYPE line.
func (a *accumulator) looseFamily(part string, mf *dto.MetricFamily) error {
	for _, m := range mf.GetMetric() {
		v, err := scalar(mf.GetType(), m)
		if err != nil {
			return err
		}
		ent, ok := entityOf(m)
		if !ok {
			a.unattributed++
			continue
		}
		sig := signature(m, "le")
		raw := a.loose[sig]
		if raw == nil {
			raw = &rawHist{}
			a.loose[sig] = raw
			a.looseEntity[sig] = ent
		}
		switch part {
		case "bucket":
			le, ok := labelValue(m, "le")
			if !ok {
				return fmt.Errorf("bucket sample without an le label")
			}
			bound, err := parseBound(le)
			if err != nil {
				return err
			}
			raw.buckets = append(raw.buckets, bucket{bound: bound, count: v})
		case "count":
			if raw.count != nil {
				return fmt.Errorf("duplicate series {%s}", sig)
			}
			raw.count = &v
		case "sum":
			raw.sum = v
		}
	}
	return nil
}

func (a *accumulator) unique(family string, m *dto.Metric, ignore string) error {
	key := family + "\xff" + signature(m, ignore)
	if a.seen[key] {
		return fmt.Errorf("duplicate series {%s}", signature(m, ignore))
	}
	a.seen[key] = true
	return nil
}

func (a *accumulator) snapshot() (Snapshot, error) {
	sigs := make([]string, 0, len(a.loose))
	for sig := range a.loose {
		sigs = append(sigs, sig)
	}
	sort.Strings(sigs)
	for _, sig := range sigs {
		ent := a.looseEntity[sig]
		a.entity(ent)
		a.hists[ent] = append(a.hists[ent], *a.loose[sig])
	}
	s := Snapshot{Entities: make(map[string]Counters, len(a.counters)), Unattributed: a.unattributed}
	for ent, c := range a.counters {
		series := make([]Histogram, 0, len(a.hists[ent]))
		for _, raw := range a.hists[ent] {
			h, err := raw.normalize()
			if err != nil {
				return Snapshot{}, fmt.Errorf("parse metrics export: %s for entity %q: %w", FamilyLatency, ent, err)
			}
			series = append(series, h)
		}
		c.Latency = mergeHistograms(series)
		if err := c.checkSums(); err != nil {
			return Snapshot{}, fmt.Errorf("parse metrics export: entity %q: %w", ent, err)
		}
		s.Entities[ent] = *c
	}
	return s, nil
}

// checkSums rejects totals that overflowed while adding series up.
func (c *Counters) checkSums() error {
	vals := append([]float64{c.Requests, c.Errors4xx, c.Errors5xx, c.Latency.Total, c.Latency.Sum}, c.Latency.Counts...)
	for _, v := range vals {
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return fmt.Errorf("series add up to %v", v)
		}
	}
	return nil
}

// scalar reads a counter-like sample. Untyped and gauge samples are accepted
// because exporters are not always careful with TYPE lines.
func scalar(t dto.MetricType, m *dto.Metric) (float64, error) {
	var v float64
	switch t {
	case dto.MetricType_COUNTER:
		v = m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		v = m.GetGauge().GetValue()
	case dto.MetricType_UNTYPED:
		v = m.GetUntyped().GetValue()
	default:
		return 0, fmt.Errorf("type %s, want counter", t)
	}
	if err := checkCount(v); err != nil {
		return 0, fmt.Errorf("series {%s}: %w", signature(m, ""), err)
	}
	return v, nil
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
		if v, ok := labelValue(m, name); ok && v != "" {
			return v, true
		}
	}
	return "", false
}

func labelValue(m *dto.Metric, name string) (string, bool) {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name {
			return lp.GetValue(), true
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
		pairs = append(pairs, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
	}
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}

func parseBound(le string) (float64, error) {
	f, err := strconv.ParseFloat(le, 64)
	if err != nil {
		return 0, fmt.Errorf("bucket bound le=%q is not a number", le)
	}
	return f, nil
}

type bucket struct {
	bound float64
	count float64
}

// rawHist is one series' histogram as exposed, before checks.
type rawHist struct {
	buckets []bucket
	count   *float64 // the _count sample, if present
	sum     float64
}

// normalize sorts and checks the buckets and settles the total: the +Inf
// bucket if present, else _count, else the highest bucket.
func (r rawHist) normalize() (Histogram, error) {
	bs := slices.Clone(r.buckets)
	slices.SortFunc(bs, func(x, y bucket) int {
		switch {
		case x.bound < y.bound:
			return -1
		case x.bound > y.bound:
			return 1
		}
		return 0
	})
	var h Histogram
	inf := math.NaN()
	for i, b := range bs {
		if math.IsNaN(b.bound) {
			return Histogram{}, fmt.Errorf("bucket bound is NaN")
		}
		if err := checkCount(b.count); err != nil {
			return Histogram{}, fmt.Errorf("bucket le=%v: %w", b.bound, err)
		}
		if i > 0 && bs[i-1].bound == b.bound {
			return Histogram{}, fmt.Errorf("two buckets with le=%v", b.bound)
		}
		if i > 0 && b.count < bs[i-1].count {
			return Histogram{}, fmt.Errorf("bucket le=%v has %v observations, fewer than le=%v with %v", b.bound, b.count, bs[i-1].bound, bs[i-1].count)
		}
		if math.IsInf(b.bound, 1) {
			inf = b.count
			continue
		}
		h.Bounds = append(h.Bounds, b.bound)
		h.Counts = append(h.Counts, b.count)
	}
	highest := 0.0
	if n := len(h.Counts); n > 0 {
		highest = h.Counts[n-1]
	}
	switch {
	case !math.IsNaN(inf):
		h.Total = inf
	case r.count != nil:
		if err := checkCount(*r.count); err != nil {
			return Histogram{}, fmt.Errorf("_count: %w", err)
		}
		if *r.count < highest {
			return Histogram{}, fmt.Errorf("_count %v is below the highest bucket's %v", *r.count, highest)
		}
		h.Total = *r.count
	default:
		h.Total = highest
	}
	if math.IsNaN(r.sum) || math.IsInf(r.sum, 0) {
		return Histogram{}, fmt.Errorf("_sum %v is not finite", r.sum)
	}
	h.Sum = r.sum
	return h, nil
}

// mergeHistograms adds histograms of one entity. Layouts may differ: the
// result has the union of bounds, and a series lacking a bound contributes
// its count at its nearest bound below.
func mergeHistograms(hs []Histogram) Histogram {
	switch len(hs) {
	case 0:
		return Histogram{}
	case 1:
		return hs[0]
	}
	same := true
	for _, h := range hs[1:] {
		if !slices.Equal(h.Bounds, hs[0].Bounds) {
			same = false
			break
		}
	}
	var out Histogram
	if same {
		out.Bounds = slices.Clone(hs[0].Bounds)
	} else {
		for _, h := range hs {
			out.Bounds = append(out.Bounds, h.Bounds...)
		}
		slices.Sort(out.Bounds)
		out.Bounds = slices.Compact(out.Bounds)
	}
	out.Counts = make([]float64, len(out.Bounds))
	for _, h := range hs {
		out.Total += h.Total
		out.Sum += h.Sum
		if same {
			for i, c := range h.Counts {
				out.Counts[i] += c
			}
			continue
		}
		for i, b := range out.Bounds {
			out.Counts[i] += h.countAt(b)
		}
	}
	return out
}

// countAt is the cumulative count at the largest bound <= b.
func (h Histogram) countAt(b float64) float64 {
	i := sort.SearchFloat64s(h.Bounds, b) // first bound >= b
	if i < len(h.Bounds) && h.Bounds[i] == b {
		return h.Counts[i]
	}
	if i == 0 {
		return 0
	}
	return h.Counts[i-1]
}
