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

// editDistance is the Levenshtein distance over bytes, which is enough for
// configuration keys.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
