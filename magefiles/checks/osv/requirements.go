package osv

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// Requirement is one line of a pip requirements file.
type Requirement struct {
	Name  string // normalized (PEP 503): lower case, runs of -_. as "-"
	Spec  string // the version specifier as written, e.g. ">=2.9,<3"
	File  string // the file it was read from, as given to ParseRequirements
	Line  int    // 1-based line in the file
	Raw   string // the requirement text, without comment or marker
	specs []spec
}

// Pinned reports whether the requirement names exactly one version.
func (r Requirement) Pinned() bool {
	for _, s := range r.specs {
		if (s.op == "==" && !s.wildcard) || s.op == "===" {
			return true
		}
	}
	return false
}

type spec struct {
	op       string // == != <= >= < > ~= ===
	version  Version
	text     string
	wildcard bool // ==1.2.*
}

var (
	reqName = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$`)
	specRe  = regexp.MustCompile(`^(===|==|!=|<=|>=|~=|<|>)\s*(\S+)$`)
	nameSep = regexp.MustCompile(`[-_.]+`)
)

// NormalizeName is PEP 503 name normalization.
func NormalizeName(n string) string {
	return strings.ToLower(nameSep.ReplaceAllString(strings.TrimSpace(n), "-"))
}

// ParseRequirements reads a requirements file. Options (-r, -e, --hash,
// index settings), URLs and blank lines are skipped; a line that cannot
// be understood is returned as an error naming file:line, and the rest
// are still parsed.
func ParseRequirements(r io.Reader, file string) ([]Requirement, []error) {
	var reqs []Requirement
	var errs []error
	sc := bufio.NewScanner(r)
	lineNo, start := 0, 0
	var pending string
	for sc.Scan() {
		lineNo++
		text := sc.Text()
		if pending == "" {
			start = lineNo
		}
		// A trailing backslash continues the line.
		if strings.HasSuffix(text, "\\") {
			pending += strings.TrimSuffix(text, "\\") + " "
			continue
		}
		text = pending + text
		pending = ""
		req, ok, err := parseLine(text)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", file, start, err))
			continue
		}
		if ok {
			req.File, req.Line = file, start
			reqs = append(reqs, req)
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("read %s: %w", file, err))
	}
	return reqs, errs
}

func parseLine(text string) (Requirement, bool, error) {
	if i := strings.Index(text, " #"); i >= 0 {
		text = text[:i]
	}
	if strings.HasPrefix(strings.TrimSpace(text), "#") {
		return Requirement{}, false, nil
	}
	text = strings.TrimSpace(text)
	if text == "" || strings.HasPrefix(text, "-") || strings.Contains(text, "://") {
		return Requirement{}, false, nil
	}
	// Drop hashes and environment markers.
	if i := strings.Index(text, " --"); i >= 0 {
		text = strings.TrimSpace(text[:i])
	}
	if i := strings.Index(text, ";"); i >= 0 {
		text = strings.TrimSpace(text[:i])
	}
	m := reqName.FindStringSubmatch(text)
	if m == nil {
		return Requirement{}, false, fmt.Errorf("cannot parse requirement %q", text)
	}
	req := Requirement{Name: NormalizeName(m[1]), Raw: text}
	specText := strings.TrimSpace(m[3])
	specText = strings.TrimSuffix(strings.TrimPrefix(specText, "("), ")")
	req.Spec = strings.ReplaceAll(specText, " ", "")
	if req.Spec == "" {
		return req, true, nil
	}
	for _, part := range strings.Split(req.Spec, ",") {
		sm := specRe.FindStringSubmatch(part)
		if sm == nil {
			return Requirement{}, false, fmt.Errorf("cannot parse version specifier %q in %q", part, text)
		}
		s := spec{op: sm[1], text: part}
		vs := sm[2]
		if strings.HasSuffix(vs, ".*") && (s.op == "==" || s.op == "!=") {
			s.wildcard = true
			vs = strings.TrimSuffix(vs, ".*")
		}
		v, err := ParseVersion(vs)
		if err != nil {
			if s.op == "===" {
				// Arbitrary equality compares strings; keep it as written.
				v = Version{raw: vs, preKind: preNone, post: -1, dev: noDev}
			} else {
				return Requirement{}, false, fmt.Errorf("%q: %w", text, err)
			}
		}
		s.version = v
		req.specs = append(req.specs, s)
	}
	return req, true, nil
}
