// Package filter is the search filter of MLflow's search endpoints (runs,
// registered models, model versions), which the emulator's MLflow services
// share: conditions joined by AND, each `key op value` with op one of = !=
// < <= > >= LIKE ILIKE IN, values quoted with ' or ", numbers bare, IN
// lists in parentheses:
//
//	name='agent' AND run_id IN ('a', 'b') AND tags.release = 'v1.2.0'
//
// A service checks the keys it knows (KeysKnown) and matches its records
// (Match); an unknown key or a parse error is the service's 400.
package filter

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

type condition struct {
	key    string
	op     string
	values []string
}

// Filter is a parsed search filter; the empty filter matches everything.
type Filter []condition

// Parse reads a filter as MLflow spells it.
func Parse(text string) (Filter, error) {
	toks, err := tokenize(text)
	if err != nil {
		return nil, err
	}
	var f Filter
	for i := 0; i < len(toks); {
		if len(f) > 0 {
			if !strings.EqualFold(toks[i].text, "and") || toks[i].quoted {
				return nil, fmt.Errorf("expected AND before %q", toks[i].text)
			}
			i++
		}
		if i+2 > len(toks) {
			return nil, fmt.Errorf("incomplete condition at the end of %q", text)
		}
		key, op := toks[i].text, strings.ToUpper(toks[i+1].text)
		if toks[i].quoted {
			return nil, fmt.Errorf("expected a field name, got the string %q", key)
		}
		i += 2
		c := condition{key: key, op: op}
		switch op {
		case "=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE":
			if i >= len(toks) || toks[i].text == "(" {
				return nil, fmt.Errorf("condition on %s needs a value", key)
			}
			c.values = []string{toks[i].text}
			i++
		case "IN":
			if i >= len(toks) || toks[i].text != "(" || toks[i].quoted {
				return nil, fmt.Errorf("IN needs a parenthesised list")
			}
			i++
			for {
				if i >= len(toks) {
					return nil, fmt.Errorf("unterminated IN list")
				}
				c.values = append(c.values, toks[i].text)
				i++
				if i < len(toks) && toks[i].text == "," && !toks[i].quoted {
					i++
					continue
				}
				if i < len(toks) && toks[i].text == ")" && !toks[i].quoted {
					i++
					break
				}
				return nil, fmt.Errorf("malformed IN list")
			}
		default:
			return nil, fmt.Errorf("unsupported operator %q", toks[i-1].text)
		}
		f = append(f, c)
	}
	return f, nil
}

type token struct {
	text   string
	quoted bool
}

func tokenize(s string) ([]token, error) {
	var toks []token
	rs := []rune(s)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '\'' || r == '"' || r == '`':
			j := i + 1
			for j < len(rs) && rs[j] != r {
				j++
			}
			if j >= len(rs) {
				return nil, fmt.Errorf("unterminated string in %q", s)
			}
			text := string(rs[i+1 : j])
			// A quoted segment after a dot belongs to the key: tags."my-key".
			if n := len(toks); n > 0 && !toks[n-1].quoted && strings.HasSuffix(toks[n-1].text, ".") {
				toks[n-1].text += text
			} else {
				toks = append(toks, token{text: text, quoted: r != '`'})
			}
			i = j + 1
		case strings.ContainsRune("(),", r):
			toks = append(toks, token{text: string(r)})
			i++
		case strings.ContainsRune("=!<>", r):
			j := i + 1
			if j < len(rs) && rs[j] == '=' {
				j++
			}
			toks = append(toks, token{text: string(rs[i:j])})
			i = j
		default:
			j := i
			for j < len(rs) && !unicode.IsSpace(rs[j]) && !strings.ContainsRune("(),=!<>'\"`", rs[j]) {
				j++
			}
			toks = append(toks, token{text: string(rs[i:j])})
			i = j
		}
	}
	return toks, nil
}

// KeysKnown checks every condition's key with known.
func (f Filter) KeysKnown(known func(key string) bool) error {
	for _, c := range f {
		if !known(c.key) {
			return fmt.Errorf("unsupported filter key %q", c.key)
		}
	}
	return nil
}

// Match evaluates the filter; get returns a field's value and whether it is set.
func (f Filter) Match(get func(key string) (string, bool)) bool {
	for _, c := range f {
		v, ok := get(c.key)
		if !c.holds(v, ok) {
			return false
		}
	}
	return true
}

func (c condition) holds(v string, present bool) bool {
	switch c.op {
	case "=":
		return present && v == c.values[0]
	case "!=":
		return !present || v != c.values[0]
	case "IN":
		return present && slices.Contains(c.values, v)
	case "LIKE", "ILIKE":
		if !present {
			return false
		}
		pattern := regexp.QuoteMeta(c.values[0])
		pattern = strings.NewReplacer("%", ".*", "_", ".").Replace(pattern)
		if c.op == "ILIKE" {
			pattern = "(?i)" + pattern
		}
		ok, _ := regexp.MatchString("^"+pattern+"$", v)
		return ok
	}
	a, errA := strconv.ParseFloat(v, 64)
	b, errB := strconv.ParseFloat(c.values[0], 64)
	if !present || errA != nil || errB != nil {
		return false
	}
	switch c.op {
	case "<":
		return a < b
	case "<=":
		return a <= b
	case ">":
		return a > b
	case ">=":
		return a >= b
	}
	return false
}
