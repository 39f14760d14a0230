package osv

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Version is a PEP 440 version, reduced to what ordering needs.
type Version struct {
	raw     string
	epoch   int
	release []int
	nseg    int // release segments as written (before trailing zeros are dropped)
	preKind int // preDevOnly < a < b < rc < preNone
	preNum  int
	post    int // -1: none
	dev     int // noDev: none
}

const (
	preDevOnly = -1 // 1.0.dev1 sorts before 1.0a1
	preA       = 0
	preB       = 1
	preRC      = 2
	preNone    = 3
	noDev      = int(^uint(0) >> 1)
)

var pep440 = regexp.MustCompile(`(?i)^\s*v?(?:(?P<epoch>\d+)!)?(?P<release>\d+(?:\.\d+)*)` +
	`(?:[-_.]?(?P<pre>a|b|c|rc|alpha|beta|pre|preview)[-_.]?(?P<prenum>\d*))?` +
	`(?:-(?P<postimplicit>\d+)|[-_.]?(?P<post>post|rev|r)[-_.]?(?P<postnum>\d*))?` +
	`(?:[-_.]?(?P<dev>dev)[-_.]?(?P<devnum>\d*))?` +
	`(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?\s*$`)

func group(m []string, name string) string {
	return m[pep440.SubexpIndex(name)]
}

// ParseVersion parses a PEP 440 version ("2.9", "1.0rc1", "2!1.0.post2.dev3").
func ParseVersion(s string) (Version, error) {
	m := pep440.FindStringSubmatch(s)
	if m == nil {
		return Version{}, fmt.Errorf("not a PEP 440 version: %q", s)
	}
	v := Version{raw: strings.TrimSpace(s), preKind: preNone, post: -1, dev: noDev}
	if e := group(m, "epoch"); e != "" {
		v.epoch = atoi(e)
	}
	for _, p := range strings.Split(group(m, "release"), ".") {
		v.release = append(v.release, atoi(p))
	}
	v.nseg = len(v.release)
	// Trailing zeros do not count: 2.0 == 2.0.0.
	for len(v.release) > 1 && v.release[len(v.release)-1] == 0 {
		v.release = v.release[:len(v.release)-1]
	}
	if pre := strings.ToLower(group(m, "pre")); pre != "" {
		switch pre {
		case "a", "alpha":
			v.preKind = preA
		case "b", "beta":
			v.preKind = preB
		default:
			v.preKind = preRC
		}
		v.preNum = atoi(group(m, "prenum"))
	}
	switch {
	case group(m, "postimplicit") != "":
		v.post = atoi(group(m, "postimplicit"))
	case group(m, "post") != "":
		v.post = atoi(group(m, "postnum"))
	}
	if group(m, "dev") != "" {
		v.dev = atoi(group(m, "devnum"))
		if v.preKind == preNone && v.post < 0 {
			v.preKind = preDevOnly
		}
	}
	return v, nil
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// String returns the version as written.
func (v Version) String() string { return v.raw }

// Compare returns -1, 0 or +1 as v sorts before, equal to or after w.
func (v Version) Compare(w Version) int {
	if c := cmpInt(v.epoch, w.epoch); c != 0 {
		return c
	}
	n := max(len(v.release), len(w.release))
	for i := 0; i < n; i++ {
		if c := cmpInt(at(v.release, i), at(w.release, i)); c != 0 {
			return c
		}
	}
	if c := cmpInt(v.preKind, w.preKind); c != 0 {
		return c
	}
	if c := cmpInt(v.preNum, w.preNum); c != 0 {
		return c
	}
	if c := cmpInt(v.post, w.post); c != 0 {
		return c
	}
	return cmpInt(v.dev, w.dev)
}

func at(s []int, i int) int {
	if i < len(s) {
		return s[i]
	}
	return 0
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// bump returns the smallest version after every version that starts with
// the first n release segments of v: the exclusive upper end of `==v.*`
// (n = len) and of `~=` (n = len-1).
func bump(v Version, n int) Version {
	rel := append([]int(nil), v.release...)
	for len(rel) < n {
		rel = append(rel, 0)
	}
	rel = rel[:n]
	rel[n-1]++
	parts := make([]string, len(rel))
	for i, r := range rel {
		parts[i] = strconv.Itoa(r)
	}
	out, _ := ParseVersion(strings.Join(parts, ".") + ".dev0")
	if v.epoch > 0 {
		out.epoch = v.epoch
	}
	return out
}
