// Package judge decides the production canary: it is where a candidate
// is promoted or aborted. Per-minute counts of the candidate and the
// baseline go in, a Decision (continue, promote, abort, insufficient
// traffic) and its Evidence come out. It is pure: no I/O, no clock. The
// rollout loop (package rollout, canary.go) reads the metrics export
// (package servingmetrics), turns each new minute into a Minute with
// MinuteOf, and acts on what Decide says; the canary benchmark
// (magefiles/bench/canary) feeds it simulated minutes instead.
//
// Reading order: judge.go (Config, Minute, State and Observe, which folds
// one minute into the mixture statistics), exact.go (the exact looks at
// fixed minutes), decide.go (Decide and the Evidence), render.go (the
// line per minute and the summary the rollout prints). The sections below
// say what the tests are and why their false-abort rate is bounded.
//
// # Errors as shares
//
// Errors are 4xx and 5xx together: a model that raises answers 4xx on the
// real service, 5xx is the platform's fault, and both are the candidate's
// problem if it has more of them than its share. Each minute the test looks
// at E, the endpoint's errors in that minute (candidate plus baseline), and
// x, the candidate's part of them, against pi, the candidate's share of the
// minute's requests. A caller's bad requests hit both versions in proportion
// to their traffic and so cancel out.
//
// # The sequential test and why its false-abort rate is bounded
//
// Model: each request of version v in minute i errs independently with
// probability p_v,i (rates may drift from minute to minute). If the
// candidate is no worse (p_cand,i <= p_base,i in every minute), then given
// the minute's request counts and its error total E_i, x_i is
// hypergeometric (the E_i errors are spread over the requests at random) or,
// when the candidate is better, stochastically smaller.
//
// For an error-rate ratio rho > 1 let theta_i(rho) = rho*pi_i / (rho*pi_i +
// 1 - pi_i), the candidate's share of errors were it rho times worse, and
//
//	L_i(rho) = (theta_i/pi_i)^x_i * ((1-theta_i)/(1-pi_i))^(E_i - x_i)
//
// the binomial likelihood ratio of that minute. L_i(rho) = exp(lambda*x_i -
// c) is convex and increasing in x_i, and sampling without replacement is
// dominated in convex order by sampling with replacement (Hoeffding 1963),
// so E[L_i(rho)] <= 1 under the hypergeometric null and, by monotonicity, for
// any better candidate too. The mixture M_n = sum_j w_j prod_{i<=n}
// L_i(rho_j), over a fixed grid of ratios with weights summing to 1, is
// therefore a nonnegative supermartingale with M_0 = 1, and Ville's
// inequality gives P(sup_n M_n >= 1/a) <= a. The test aborts the first
// time M_n >= 1/a with a a quarter of the error test's alpha: its
// false-abort rate is at most a however many minutes it looks at, and
// stopping early for any other reason (promotion, a maximum duration, too
// little traffic) only lowers it. 1/M_n, running minimum, is an
// always-valid p-value.
//
// # Exact looks at fixed minutes
//
// Watching every minute has a price: the mixture's boundary log(1/a) sits
// well above what a test looked at once needs. So the other three quarters
// of the error alpha go to an exact conditional test looked at only at
// fixed minutes, in equal shares: at minute 5 and minute 15 when they come
// before MaxMinutes (the horizons by which a much worse and a three times
// worse candidate should be caught), and at MaxMinutes. Given every
// minute's margins (candidate and baseline requests, endpoint errors, as
// integers), an identical candidate's error counts x_i are independent
// hypergeometric draws, so the law of their sum S_n is the convolution of
// the minutes' laws; Observe keeps it, trimming ends below 1e-16 and adding
// what it trimmed to every tail, so trimming only makes the test stricter.
// At a look the boundary c is the smallest count that paths not rejected at
// an earlier look reach with probability at most the look's level, the
// look rejects when S_n >= c, and those paths are cut before the next
// minute (exact error spending, as in group-sequential designs). The
// boundaries depend on the margins alone, so given the margins the
// probability that some look rejects is at most the sum of the levels, and
// so it is unconditionally. A candidate better than its baseline has each
// x_i stochastically smaller (the noncentral hypergeometric law increases
// with the odds ratio) and "some look rejects" is an increasing event, so
// it is rarer still. The looks are taken by Observe at fixed counts of
// minutes, whatever the cadence at which Decide is asked, and stopping
// before a look only removes it. By the union bound the error test aborts
// an identical candidate with probability at most a + 3a = its alpha.
//
// Latency, where the export has per-minute histograms, is judged by the
// mixture test alone, with all of its half of alpha, on slow requests:
// each minute the slow threshold is the highest bucket bound that at
// least 5% of the pooled (candidate plus baseline) requests exceed, the
// pooled p95 to bucket precision, a symmetric function of the pooled
// observations, so for identical versions the candidate's share of the
// slow requests is again hypergeometric given the pooled histogram. Errors and latency split alpha in half (a union bound);
// without latency the error test has all of it.
//
// # Deciding
//
// Decide says, in this order: Abort when the error mixture test, an exact
// look or the latency test crosses its boundary; Promote when the
// evidence says the candidate is not more than MaxErrorRatio times worse
// (a second mixture test of rho >= MaxErrorRatio against ratios below it,
// at level 5%, using the binomial approximation);
// at MaxMinutes, Insufficient traffic when the candidate served fewer than
// MinRequests requests, else Promote with the evidence; otherwise Continue.
// The record carries the statistic, its boundaries, the always-valid
// p-value, each look taken (counts, boundary, level, p), and an estimated
// candidate/baseline error-rate ratio with a fixed-sample 95% interval
// (Katz log method, 0.5 added to zero counts) for a person to read; the
// interval does not drive the decision.
package judge
