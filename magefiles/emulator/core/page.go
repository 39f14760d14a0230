package core

import (
	"strconv"
	"strings"
)

// PageToken parses the offset token of a listing that pages by offset
// (jobs, MLflow runs, the workspace registry); tokens are opaque to
// clients.
func PageToken(tok string) (int, *Error) {
	if tok == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(tok, "o"))
	if err != nil || n < 0 || !strings.HasPrefix(tok, "o") {
		return 0, InvalidParam("Invalid page_token %q.", tok)
	}
	return n, nil
}

// Page cuts one page out of n items: it returns the bounds and the token of
// the next page ("" on the last page).
func Page(n, offset, limit int) (from, to int, next string) {
	from = min(offset, n)
	to = min(from+limit, n)
	if to < n {
		next = "o" + strconv.Itoa(to)
	}
	return from, to, next
}
