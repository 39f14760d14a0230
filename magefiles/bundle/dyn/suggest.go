package dyn

import "sort"

// Suggest returns the candidate closest to s by edit distance when it is
// close enough to be a likely typo (at most a third of s's length, and at
// least one edit allowed), or "".
func Suggest(s string, candidates []string) string {
	best, bestDist, bestShared := "", -1, 0
	limit := len(s) / 3
	if limit < 1 {
		limit = 1
	}
	for _, c := range candidates {
		d := editDistance(s, c)
		if d > limit {
			continue
		}
		// Ties go to the candidate sharing more letters with s, so "taks"
		// suggests "tasks" rather than "tags".
		shared := sharedLetters(s, c)
		if bestDist < 0 || d < bestDist || (d == bestDist && shared > bestShared) {
			best, bestDist, bestShared = c, d, shared
		}
	}
	return best
}

// sharedLetters counts the bytes a and b have in common, as multisets.
func sharedLetters(a, b string) int {
	var counts [256]int
	for i := 0; i < len(a); i++ {
		counts[a[i]]++
	}
	n := 0
	for i := 0; i < len(b); i++ {
		if counts[b[i]] > 0 {
			counts[b[i]]--
			n++
		}
	}
	return n
}

// editDistance counts insertions, deletions, substitutions and swaps of
// two neighbouring bytes (the optimal string alignment distance), so the
// common typo "nmae" is one edit from "name".
func editDistance(a, b string) int {
	rows := make([][]int, len(a)+1)
	for i := range rows {
		rows[i] = make([]int, len(b)+1)
		rows[i][0] = i
	}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d := min(rows[i-1][j]+1, rows[i][j-1]+1, rows[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d = min(d, rows[i-2][j-2]+1)
			}
			rows[i][j] = d
		}
	}
	return rows[len(a)][len(b)]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
