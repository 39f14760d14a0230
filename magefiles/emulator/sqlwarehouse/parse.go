package sqlwarehouse

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// query is a parsed statement of the subset the emulator runs.
type query struct {
	columns []string // nil for *
	table   []string // one to three name parts
	where   []condition
	orderBy string
	desc    bool
	limit   int // -1 without LIMIT
}

// condition is <column> = <literal>.
type condition struct {
	column string
	value  string
	quoted bool // a 'string' literal, else an integer
}

type tokenKind int

const (
	tokIdent  tokenKind = iota // a bare or backquoted name, or a keyword
	tokNumber                  // an integer
	tokString                  // a 'quoted' string
	tokSymbol                  // one character: , . * = ; or another
)

type token struct {
	kind   tokenKind
	text   string
	quoted bool // a backquoted identifier, never a keyword
}

// unsupported is a statement outside the subset.
type unsupported struct{ reason string }

func (e unsupported) Error() string { return e.reason }

func unsupportedf(format string, args ...any) error {
	return unsupported{reason: fmt.Sprintf(format, args...)}
}

// tokenize splits a statement into tokens.
func tokenize(sql string) ([]token, error) {
	var out []token
	rs := []rune(sql)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '`':
			end := i + 1
			var b strings.Builder
			for ; end < len(rs); end++ {
				if rs[end] == '`' {
					if end+1 < len(rs) && rs[end+1] == '`' { // `` is a backquote
						b.WriteRune('`')
						end++
						continue
					}
					break
				}
				b.WriteRune(rs[end])
			}
			if end >= len(rs) {
				return nil, unsupportedf("unterminated backquoted name")
			}
			out = append(out, token{kind: tokIdent, text: b.String(), quoted: true})
			i = end + 1
		case r == '\'':
			end := i + 1
			var b strings.Builder
			for ; end < len(rs); end++ {
				if rs[end] == '\'' {
					if end+1 < len(rs) && rs[end+1] == '\'' { // '' is a quote
						b.WriteRune('\'')
						end++
						continue
					}
					break
				}
				b.WriteRune(rs[end])
			}
			if end >= len(rs) {
				return nil, unsupportedf("unterminated string literal")
			}
			out = append(out, token{kind: tokString, text: b.String()})
			i = end + 1
		case unicode.IsDigit(r) || (r == '-' && i+1 < len(rs) && unicode.IsDigit(rs[i+1])):
			end := i + 1
			for end < len(rs) && unicode.IsDigit(rs[end]) {
				end++
			}
			out = append(out, token{kind: tokNumber, text: string(rs[i:end])})
			i = end
		case r == '_' || unicode.IsLetter(r):
			end := i + 1
			for end < len(rs) && (rs[end] == '_' || unicode.IsLetter(rs[end]) || unicode.IsDigit(rs[end])) {
				end++
			}
			out = append(out, token{kind: tokIdent, text: string(rs[i:end])})
			i = end
		default: // any other character is a symbol the parser places or refuses
			out = append(out, token{kind: tokSymbol, text: string(r)})
			i++
		}
	}
	return out, nil
}

// parser reads tokens left to right.
type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() (token, bool) {
	if p.pos >= len(p.toks) {
		return token{}, false
	}
	return p.toks[p.pos], true
}

// keyword consumes the keyword kw if it is next.
func (p *parser) keyword(kw string) bool {
	t, ok := p.peek()
	if ok && t.kind == tokIdent && !t.quoted && strings.EqualFold(t.text, kw) {
		p.pos++
		return true
	}
	return false
}

func (p *parser) symbol(s string) bool {
	t, ok := p.peek()
	if ok && t.kind == tokSymbol && t.text == s {
		p.pos++
		return true
	}
	return false
}

// reserved are the keywords that end a clause, never column or table names
// unless backquoted.
var reserved = map[string]bool{"select": true, "from": true, "where": true, "and": true, "or": true, "order": true, "by": true, "limit": true, "asc": true, "desc": true, "group": true, "join": true, "as": true}

func (p *parser) ident(what string) (string, error) {
	t, ok := p.peek()
	if !ok || t.kind != tokIdent || (!t.quoted && reserved[strings.ToLower(t.text)]) {
		return "", unsupportedf("expected %s%s", what, p.near())
	}
	p.pos++
	return t.text, nil
}

// near says where parsing stopped.
func (p *parser) near() string {
	t, ok := p.peek()
	if !ok {
		return " at the end of the statement"
	}
	return fmt.Sprintf(" near %q", t.text)
}

// parse reads a statement of the subset, or says why it is not one.
func parse(sql string) (*query, error) {
	toks, err := tokenize(sql)
	if err != nil {
		return nil, err
	}
	for len(toks) > 0 && toks[len(toks)-1].kind == tokSymbol && toks[len(toks)-1].text == ";" {
		toks = toks[:len(toks)-1]
	}
	p := &parser{toks: toks}
	q := &query{limit: -1}
	if !p.keyword("SELECT") {
		return nil, unsupportedf("only SELECT statements run")
	}
	if err := p.selectList(q); err != nil {
		return nil, err
	}
	if !p.keyword("FROM") {
		return nil, unsupportedf("expected FROM%s", p.near())
	}
	if err := p.tableName(q); err != nil {
		return nil, err
	}
	if p.keyword("WHERE") {
		if err := p.conditions(q); err != nil {
			return nil, err
		}
	}
	if p.keyword("ORDER") {
		if !p.keyword("BY") {
			return nil, unsupportedf("expected BY after ORDER%s", p.near())
		}
		if q.orderBy, err = p.ident("a column to order by"); err != nil {
			return nil, err
		}
		q.desc = p.keyword("DESC")
		if !q.desc {
			p.keyword("ASC")
		}
	}
	if p.keyword("LIMIT") {
		t, ok := p.peek()
		n, convErr := strconv.Atoi(t.text)
		if !ok || t.kind != tokNumber || convErr != nil || n < 0 {
			return nil, unsupportedf("LIMIT takes a non-negative integer%s", p.near())
		}
		p.pos++
		q.limit = n
	}
	if _, more := p.peek(); more {
		return nil, unsupportedf("unexpected input%s", p.near())
	}
	return q, nil
}

func (p *parser) selectList(q *query) error {
	if p.symbol("*") {
		return nil
	}
	for {
		col, err := p.ident("a column name or *")
		if err != nil {
			return err
		}
		q.columns = append(q.columns, col)
		if !p.symbol(",") {
			return nil
		}
	}
}

func (p *parser) tableName(q *query) error {
	for {
		part, err := p.ident("a table name")
		if err != nil {
			return err
		}
		q.table = append(q.table, part)
		if !p.symbol(".") {
			break
		}
	}
	if len(q.table) > 3 {
		return unsupportedf("a table name has at most three parts")
	}
	return nil
}

func (p *parser) conditions(q *query) error {
	for {
		col, err := p.ident("a column name")
		if err != nil {
			return err
		}
		if !p.symbol("=") {
			return unsupportedf("only <column> = <value> conditions run%s", p.near())
		}
		t, ok := p.peek()
		if !ok || (t.kind != tokNumber && t.kind != tokString) {
			return unsupportedf("expected an integer or 'string'%s", p.near())
		}
		p.pos++
		q.where = append(q.where, condition{column: col, value: t.text, quoted: t.kind == tokString})
		if !p.keyword("AND") {
			return nil
		}
	}
}
