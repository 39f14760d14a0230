//go:build ignore
// +build ignore

package main

import (
	_context "context"
	_flag "flag"
	_fmt "fmt"
	_io "io"
	_log "log"
	_os "os"
	_signal "os/signal"
	_filepath "path/filepath"
	_sort "sort"
	_strconv "strconv"
	_strings "strings"
	_syscall "syscall"
	_tabwriter "text/tabwriter"
	_time "time"
	
)

func main() {
	// Use local types and functions in order to avoid name conflicts with additional magefiles.
	type arguments struct {
		Verbose       bool          // print out log statements
		List          bool          // print out a list of targets
		Help          bool          // print out help for a specific target
		Timeout       _time.Duration // set a timeout to running the targets
		Args          []string      // args contain the non-flag command-line arguments
	}

	parseBool := func(env string) bool {
		val := _os.Getenv(env)
		if val == "" {
			return false
		}		
		b, err := _strconv.ParseBool(val)
		if err != nil {
			_log.Printf("warning: environment variable %s is not a valid bool value: %v", env, val)
			return false
		}
		return b
	}

	parseDuration := func(env string) _time.Duration {
		val := _os.Getenv(env)
		if val == "" {
			return 0
		}		
		d, err := _time.ParseDuration(val)
		if err != nil {
			_log.Printf("warning: environment variable %s is not a valid duration value: %v", env, val)
			return 0
		}
		return d
	}
	args := arguments{}
	fs := _flag.FlagSet{}
	fs.SetOutput(_os.Stdout)

	// default flag set with ExitOnError and auto generated PrintDefaults should be sufficient
	fs.BoolVar(&args.Verbose, "v", parseBool("MAGEFILE_VERBOSE"), "show verbose output when running targets")
	fs.BoolVar(&args.List, "l", parseBool("MAGEFILE_LIST"), "list targets for this binary")
	fs.BoolVar(&args.Help, "h", parseBool("MAGEFILE_HELP"), "print out help for a specific target")
	fs.DurationVar(&args.Timeout, "t", parseDuration("MAGEFILE_TIMEOUT"), "timeout in duration parsable format (e.g. 5m30s)")
	fs.Usage = func() {
		_fmt.Fprintf(_os.Stdout, `
%s [options] [target]

Commands:
  -l    list targets in this binary
  -h    show this help

Options:
  -h    show description of a target
  -t <string>
        timeout in duration parsable format (e.g. 5m30s)
  -v    show verbose output when running targets
 `[1:], _filepath.Base(_os.Args[0]))
	}
	if err := fs.Parse(_os.Args[1:]); err != nil {
		// flag will have printed out an error already.
		return
	}
	args.Args = fs.Args()
	if args.Help && len(args.Args) == 0 {
		fs.Usage()
		return
	}
		
	var printName = func(str string) string {
	// color is ANSI color type
	type color int

	// If you add/change/remove any items in this constant,
	// you will need to run "stringer -type=color" in this directory again.
	// NOTE: Please keep the list in an alphabetical order.
	const (
		black color = iota
		red
		green
		yellow
		blue
		magenta
		cyan
		white
		brightblack
		brightred
		brightgreen
		brightyellow
		brightblue
		brightmagenta
		brightcyan
		brightwhite
	)

	// AnsiColor are ANSI color codes for supported terminal colors.
	var ansiColor = map[color]string{
		black:         "\u001b[30m",
		red:           "\u001b[31m",
		green:         "\u001b[32m",
		yellow:        "\u001b[33m",
		blue:          "\u001b[34m",
		magenta:       "\u001b[35m",
		cyan:          "\u001b[36m",
		white:         "\u001b[37m",
		brightblack:   "\u001b[30;1m",
		brightred:     "\u001b[31;1m",
		brightgreen:   "\u001b[32;1m",
		brightyellow:  "\u001b[33;1m",
		brightblue:    "\u001b[34;1m",
		brightmagenta: "\u001b[35;1m",
		brightcyan:    "\u001b[36;1m",
		brightwhite:   "\u001b[37;1m",
	}

	const colorName = "blackredgreenyellowbluemagentacyanwhitebrightblackbrightredbrightgreenbrightyellowbrightbluebrightmagentabrightcyanbrightwhite"

	var colorIndex = [...]uint8{0, 5, 8, 13, 19, 23, 30, 34, 39, 50, 59, 70, 82, 92, 105, 115, 126}

	colorToLowerString := func(i color) string {
		if i < 0 || i >= color(len(colorIndex)-1) {
			return "color(" + _strconv.FormatInt(int64(i), 10) + ")"
		}
		return colorName[colorIndex[i]:colorIndex[i+1]]
	}

	// ansiColorReset is an ANSI color code to reset the terminal color.
	const ansiColorReset = "\033[0m"

	// defaultTargetAnsiColor is a default ANSI color for colorizing targets.
	// It is set to Cyan as an arbitrary color, because it has a neutral meaning
	var defaultTargetAnsiColor = ansiColor[cyan]

	getAnsiColor := func(color string) (string, bool) {
		colorLower := _strings.ToLower(color)
		for k, v := range ansiColor {
			colorConstLower := colorToLowerString(k)
			if colorConstLower == colorLower {
				return v, true
			}
		}
		return "", false
	}

	// Terminals which  don't support color:
	//
	//	TERM=vt100
	//	TERM=cygwin
	//	TERM=xterm-mono
	var noColorTerms = map[string]bool{
		"vt100":      false,
		"cygwin":     false,
		"xterm-mono": false,
	}

	// terminalSupportsColor checks if the current console supports color output
	//
	// Supported:
	//
	//	linux, mac, or windows's ConEmu, Cmder, putty, git-bash.exe, pwsh.exe
	//
	// Not supported:
	//
	//	windows cmd.exe, powerShell.exe
	terminalSupportsColor := func() bool {
		envTerm := _os.Getenv("TERM")
		if _, ok := noColorTerms[envTerm]; ok {
			return false
		}
		return true
	}

	// enableColor reports whether the user has requested to enable a color output.
	enableColor := func() bool {
		b, _ := _strconv.ParseBool(_os.Getenv("MAGEFILE_ENABLE_COLOR"))
		return b
	}

	// targetColor returns the ANSI color which should be used to colorize targets.
	targetColor := func() string {
		s, exists := _os.LookupEnv("MAGEFILE_TARGET_COLOR")
		if exists {
			if c, ok := getAnsiColor(s); ok {
				return c
			}
		}
		return defaultTargetAnsiColor
	}

	// store the color terminal variables, so that the detection isn't repeated for each target
	var enableColorValue = enableColor() && terminalSupportsColor()
	var targetColorValue = targetColor()

	if enableColorValue {
		return _fmt.Sprintf("%s%s%s", targetColorValue, str, ansiColorReset)
	}

	return str
}


	list := func() error {
		_fmt.Println(`Package main holds the Mage targets of this repository. Targets stay thin: they parse arguments, build state and call a package under magefiles/.
`)
		targets := map[string]string{
			"bench:ci": "measures mage ci on a fresh clone of HEAD: fresh, cold, warm, after a Go and a Python edit, -j=1; -base=<commit> adds its cold run, -caches=<dir> reuses built tools (artifacts/bench/ci.*).",
			"bundle:config": "prints a target's fully resolved configuration as JSON, like 'databricks bundle validate -o json' (flags: -vars=a=1,b=2 -user=EMAIL).",
			"bundle:validate": "checks databricks.yml and resources/*.yml for a target (dev, staging, prod, default or all) with file:line diagnostics (flags: -strict -json -vars=a=1,b=2 -user=EMAIL).",
			"ci:audit": "checks the Go module and requirements.txt against local vulnerability databases.",
			"ci:bandit": "scans src/ with bandit (artifacts/security/bandit.sarif).",
			"ci:black": "checks the Python formatting with black.",
			"ci:bundle": "validates databricks.yml and resources/*.yml, after the security and secret scans.",
			"ci:flake8": "runs flake8 on the Python code.",
			"ci:goTest": "runs the Go tests with -race and coverage (JUnit in artifacts/tests).",
			"ci:goVet": "runs go vet on every package, mage targets included.",
			"ci:gofmt": "checks that every Go file is gofmt-formatted.",
			"ci:gosec": "scans the Go code with gosec (artifacts/security/gosec.sarif).",
			"ci:govulncheck": "reports known vulnerabilities reachable from the Go code.",
			"ci:isort": "checks the Python import order with isort.",
			"ci:mypy": "type-checks src/ and tests/ with mypy.",
			"ci:pylint": "runs pylint on src/.",
			"ci:pytest": "runs the Python unit tests on each matrix version, with coverage >= 80%.",
			"ci:quality": "runs the linters: gofmt, go vet, staticcheck, black, isort, flake8, pylint, mypy, actionlint.",
			"ci:reqAudit": "checks requirements.txt against the OSV advisories in CI_VULN_DB.",
			"ci:secrets": "scans the working tree for secrets (-history: every commit instead).",
			"ci:secretsBaseline": "accepts every current secret-scan finding into .gitleaks-baseline.json (review the diff!).",
			"ci:security": "runs the security scans: bandit on src/ and gosec on the Go code (SARIF in artifacts/security).",
			"ci:staticcheck": "runs the pinned staticcheck on every package.",
			"ci:unit": "runs the unit tests: go-test and the pytest matrix.",
			"ci:workflows": "lints .github/workflows with the pinned actionlint.",
			"ci": "runs every CI check in parallel with one summary (flags: -j=N -failfast -nocache -strict -history -only=check,group).",
			"clean": "removes artifacts/ (with -keep=720h, only reports older than that).",
			"demo": "tells the whole release story on a local workspace emulator, no Databricks needed: dev, staging, prod canary, a bad canary aborted, a rollback (-timescale=0.01 -keep).",
			"deploy:dev": "deploys the release tagged on HEAD to dev: bundle, training run, model version, endpoint (flags: -release=vX.Y.Z -engine=sdk|cli).",
			"deploy:prod": "backs up prod, promotes what staging verified (stable tag on main) and rolls it out as a 10% canary judged by metrics, then 100% or abort (approval: terminal, GitHub environment, or -yes).",
			"deploy:staging": "promotes the model version dev verified for this release and serves it (approval: a terminal, the GitHub environment, or -yes).",
			"emulator:serve": "runs a local Databricks workspace on 127.0.0.1 until Ctrl-C and prints the DATABRICKS_HOST and DATABRICKS_TOKEN to export (-port=N, -state=file.json, -timescale=0.01).",
			"plan": "shows what deploy:<env> would change (model version, endpoint before/after, jobs), changing nothing.",
			"release:notes": "writes artifacts/release-notes.md for the tag on HEAD (or -tag=vX.Y.Z), with model versions from artifacts/releases, and updates the GitHub release when GITHUB_TOKEN is set.",
			"rollback": "puts an environment back on its previous stable release (-to=v1.0.0 for a release, -version=N for a model version; -yes skips the confirmation).",
			"status": "shows what is live in an environment: served versions, traffic, endpoint state, last release, lock.",
			"test": "runs the Go tests and the Python unit tests (the checks go-test and pytest).",
			"unlock": "removes an environment's deploy lock left by a deploy that died, after showing its holder and asking (-yes skips the question).",
			"verify:dev": "checks the dev endpoint: integration cases and metrics export (-load adds the load test, -smoke runs the smoke cases only).",
			"verify:prod": "checks the prod endpoint: integration cases and metrics export (-load adds the load test, -smoke runs the smoke cases only).",
			"verify:staging": "checks the staging endpoint: integration cases, load test against the bundle's thresholds, metrics export (-smoke: smoke cases only).",
		}

		keys := make([]string, 0, len(targets))
		for name := range targets {
			keys = append(keys, name)
		}
		_sort.Strings(keys)

		_fmt.Println("Targets:")
		w := _tabwriter.NewWriter(_os.Stdout, 0, 4, 4, ' ', 0)
		for _, name := range keys {
			_fmt.Fprintf(w, "  %v\t%v\n", printName(name), targets[name])
		}
		err := w.Flush()
		return err
	}

	var ctx _context.Context
	ctxCancel := func(){}

	// by deferring in a closure, we let the cancel function get replaced
	// by the getContext function.
	defer func() {
		ctxCancel()
	}()

	getContext := func() (_context.Context, func()) {
		if ctx == nil {
			if args.Timeout != 0 {
				ctx, ctxCancel = _context.WithTimeout(_context.Background(), args.Timeout)
			} else {
				ctx, ctxCancel = _context.WithCancel(_context.Background())
			}
		}

		return ctx, ctxCancel
	}

	runTarget := func(logger *_log.Logger, fn func(_context.Context) error) interface{} {
		var err interface{}
		ctx, cancel := getContext()
		d := make(chan interface{})
		go func() {
			defer func() {
				err := recover()
				d <- err
			}()
			err := fn(ctx)
			d <- err
		}()
		sigCh := make(chan _os.Signal, 1)
		_signal.Notify(sigCh, _syscall.SIGINT)
		select {
		case <-sigCh:
			logger.Println("cancelling mage targets, waiting up to 5 seconds for cleanup...")
			cancel()
			cleanupCh := _time.After(5 * _time.Second)

			select {
			// target exited by itself
			case err = <-d:
				return err
			// cleanup timeout exceeded
			case <-cleanupCh:
				return _fmt.Errorf("cleanup timeout exceeded")
			// second SIGINT received
			case <-sigCh:
				logger.Println("exiting mage")
				return _fmt.Errorf("exit forced")
			}
		case <-ctx.Done():
			cancel()
			e := ctx.Err()
			_fmt.Printf("ctx err: %v\n", e)
			return e
		case err = <-d:
			// we intentionally don't cancel the context here, because
			// the next target will need to run with the same _context.
			return err
		}
	}
	// This is necessary in case there aren't any targets, to avoid an unused
	// variable error.
	_ = runTarget

	handleError := func(logger *_log.Logger, err interface{}) {
		if err != nil {
			logger.Printf("Error: %+v\n", err)
			type code interface {
				ExitStatus() int
			}
			if c, ok := err.(code); ok {
				_os.Exit(c.ExitStatus())
			}
			_os.Exit(1)
		}
	}
	_ = handleError

	// Set MAGEFILE_VERBOSE so mg.Verbose() reflects the flag value.
	if args.Verbose {
		_os.Setenv("MAGEFILE_VERBOSE", "1")
	} else {
		_os.Setenv("MAGEFILE_VERBOSE", "0")
	}

	_log.SetFlags(0)
	if !args.Verbose {
		_log.SetOutput(_io.Discard)
	}
	logger := _log.New(_os.Stderr, "", 0)
	if args.List {
		if err := list(); err != nil {
			_log.Println(err)
			_os.Exit(1)
		}
		return
	}

	if args.Help {
		if len(args.Args) < 1 {
			logger.Println("no target specified")
			_os.Exit(2)
		}
		switch _strings.ToLower(args.Args[0]) {
			case "bench:ci":
				_fmt.Println("Ci measures mage ci on a fresh clone of HEAD: fresh, cold, warm, after a Go and a Python edit, -j=1; -base=<commit> adds its cold run, -caches=<dir> reuses built tools (artifacts/bench/ci.*).")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage bench:ci [<flags>]\n\n")
				_fmt.Print("Flags:\n\n\t-base=<string>\n\t-caches=<string>\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "bundle:config":
				_fmt.Println("Config prints a target's fully resolved configuration as JSON, like 'databricks bundle validate -o json' (flags: -vars=a=1,b=2 -user=EMAIL).")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage bundle:config <target> [<flags>]\n\n")
				_fmt.Print("Flags:\n\n\t-vars=<string>\n\t-user=<string>\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "bundle:validate":
				_fmt.Println("Validate checks databricks.yml and resources/*.yml for a target (dev, staging, prod, default or all) with file:line diagnostics (flags: -strict -json -vars=a=1,b=2 -user=EMAIL).")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage bundle:validate <target> [<flags>]\n\n")
				_fmt.Print("Flags:\n\n\t-strict=<bool>\n\t-json=<bool>\n\t-vars=<string>\n\t-user=<string>\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "ci:audit":
				_fmt.Println("Audit checks the Go module and requirements.txt against local vulnerability databases.")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage ci:audit\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "ci:bandit":
				_fmt.Println("Bandit scans src/ with bandit (artifacts/security/bandit.sarif).")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage ci:bandit\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "ci:black":
				_fmt.Println("Black checks the Python formatting with black.")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage ci:black\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "ci:bundle":
				_fmt.Println("Bundle validates databricks.yml and resources/*.yml, after the security and secret scans.")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage ci:bundle\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "ci:flake8":
				_fmt.Println("Flake8 runs flake8 on the Python code.")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage ci:flake8\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "ci:gotest":
				_fmt.Println("GoTest runs the Go tests with -race and coverage (JUnit in artifacts/tests).")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage ci:gotest\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "ci:govet":
				_fmt.Println("GoVet runs go vet on every package, mage targets included.")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage ci:govet\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "ci:gofmt":
				_fmt.Println("Gofmt checks that every Go file is gofmt-formatted.")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage ci:gofmt\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "ci:gosec":
				_fmt.Println("Gosec scans the Go code with gosec (artifacts/security/gosec.sarif).")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage ci:gosec\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "ci:govulncheck":
				_fmt.Println("Govulncheck reports known vulnerabilities reachable from the Go code.")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage ci:govulncheck\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "ci:isort":
				_fmt.Println("Isort checks the Python import order with isort.")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage ci:isort\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "ci:mypy":
				_fmt.Println("Mypy type-checks src/ and tests/ with mypy.")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage ci:mypy\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "ci:pylint":
				_fmt.Println("Pylint runs pylint on src/.")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage ci:pylint\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "ci:pytest":
				_fmt.Println("Pytest runs the Python unit tests on each matrix version, with coverage >= 80%.")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage ci:pytest\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "ci:quality":
				_fmt.Println("Quality runs the linters: gofmt, go vet, staticcheck, black, isort, flake8, pylint, mypy, actionlint.")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage ci:quality\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "ci:reqaudit":
				_fmt.Println("ReqAudit checks requirements.txt against the OSV advisories in CI_VULN_DB.")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage ci:reqaudit\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "ci:secrets":
				_fmt.Println("Secrets scans the working tree for secrets (-history: every commit instead).")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage ci:secrets [-history=<bool>]\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "ci:secretsbaseline":
				_fmt.Println("SecretsBaseline accepts every current secret-scan finding into .gitleaks-baseline.json (review the diff!).")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage ci:secretsbaseline [<flags>]\n\n")
				_fmt.Print("Flags:\n\n\t-history=<bool>\n\t-reason=<string>\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "ci:security":
				_fmt.Println("Security runs the security scans: bandit on src/ and gosec on the Go code (SARIF in artifacts/security).")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage ci:security\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "ci:staticcheck":
				_fmt.Println("Staticcheck runs the pinned staticcheck on every package.")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage ci:staticcheck\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "ci:unit":
				_fmt.Println("Unit runs the unit tests: go-test and the pytest matrix.")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage ci:unit\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "ci:workflows":
				_fmt.Println("Workflows lints .github/workflows with the pinned actionlint.")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage ci:workflows\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "ci":
				_fmt.Println("Ci runs every CI check in parallel with one summary (flags: -j=N -failfast -nocache -strict -history -only=check,group).")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage ci [<flags>]\n\n")
				_fmt.Print("Flags:\n\n\t-j=<int>\n\t-failfast=<bool>\n\t-nocache=<bool>\n\t-strict=<bool>\n\t-history=<bool>\n\t-only=<string>\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "clean":
				_fmt.Println("Clean removes artifacts/ (with -keep=720h, only reports older than that).")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage clean [-keep=<time.Duration>]\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "demo":
				_fmt.Println("Demo tells the whole release story on a local workspace emulator, no Databricks needed: dev, staging, prod canary, a bad canary aborted, a rollback (-timescale=0.01 -keep).")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage demo [<flags>]\n\n")
				_fmt.Print("Flags:\n\n\t-timescale=<float64>\n\t-keep=<bool>\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "deploy:dev":
				_fmt.Println("Dev deploys the release tagged on HEAD to dev: bundle, training run, model version, endpoint (flags: -release=vX.Y.Z -engine=sdk|cli).")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage deploy:dev [<flags>]\n\n")
				_fmt.Print("Flags:\n\n\t-release=<string>\n\t-engine=<string>\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "deploy:prod":
				_fmt.Println("Prod backs up prod, promotes what staging verified (stable tag on main) and rolls it out as a 10% canary judged by metrics, then 100% or abort (approval: terminal, GitHub environment, or -yes).")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage deploy:prod [<flags>]\n\n")
				_fmt.Print("Flags:\n\n\t-yes=<bool>\n\t-engine=<string>\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "deploy:staging":
				_fmt.Println("Staging promotes the model version dev verified for this release and serves it (approval: a terminal, the GitHub environment, or -yes).")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage deploy:staging [<flags>]\n\n")
				_fmt.Print("Flags:\n\n\t-yes=<bool>\n\t-engine=<string>\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "emulator:serve":
				_fmt.Println("Serve runs a local Databricks workspace on 127.0.0.1 until Ctrl-C and prints the DATABRICKS_HOST and DATABRICKS_TOKEN to export (-port=N, -state=file.json, -timescale=0.01).")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage emulator:serve [<flags>]\n\n")
				_fmt.Print("Flags:\n\n\t-port=<int>\n\t-state=<string>\n\t-timescale=<float64>\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "plan":
				_fmt.Println("Plan shows what deploy:<env> would change (model version, endpoint before/after, jobs), changing nothing.")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage plan <env>\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "release:notes":
				_fmt.Println("Notes writes artifacts/release-notes.md for the tag on HEAD (or -tag=vX.Y.Z), with model versions from artifacts/releases, and updates the GitHub release when GITHUB_TOKEN is set.")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage release:notes [-tag=<string>]\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "rollback":
				_fmt.Println("Rollback puts an environment back on its previous stable release (-to=v1.0.0 for a release, -version=N for a model version; -yes skips the confirmation).")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage rollback <env> [<flags>]\n\n")
				_fmt.Print("Flags:\n\n\t-to=<string>\n\t-version=<string>\n\t-yes=<bool>\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "status":
				_fmt.Println("Status shows what is live in an environment: served versions, traffic, endpoint state, last release, lock.")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage status <env>\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "test":
				_fmt.Println("Test runs the Go tests and the Python unit tests (the checks go-test and pytest).")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage test\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "unlock":
				_fmt.Println("Unlock removes an environment's deploy lock left by a deploy that died, after showing its holder and asking (-yes skips the question).")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage unlock <env> [-yes=<bool>]\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "verify:dev":
				_fmt.Println("Dev checks the dev endpoint: integration cases and metrics export (-load adds the load test, -smoke runs the smoke cases only).")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage verify:dev [<flags>]\n\n")
				_fmt.Print("Flags:\n\n\t-load=<bool>\n\t-smoke=<bool>\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "verify:prod":
				_fmt.Println("Prod checks the prod endpoint: integration cases and metrics export (-load adds the load test, -smoke runs the smoke cases only).")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage verify:prod [<flags>]\n\n")
				_fmt.Print("Flags:\n\n\t-load=<bool>\n\t-smoke=<bool>\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			case "verify:staging":
				_fmt.Println("Staging checks the staging endpoint: integration cases, load test against the bundle's thresholds, metrics export (-smoke: smoke cases only).")
				_fmt.Println()
				
				_fmt.Print("Usage:\n\n\tmage verify:staging [-smoke=<bool>]\n\n")
				var aliases []string
				if len(aliases) > 0 {
					_sort.Strings(aliases)
					_fmt.Printf("Aliases: %s\n\n", _strings.Join(aliases, ", "))
				}
				return
			default:
				logger.Printf("Unknown target: %q\n", args.Args[0])
				_os.Exit(2)
		}
	}
	if len(args.Args) < 1 {
		if err := list(); err != nil {
			logger.Println("Error:", err)
			_os.Exit(1)
		}
		return
	}
	for x := 0; x < len(args.Args); {
		target := args.Args[x]
		x++

		// resolve aliases
		switch _strings.ToLower(target) {
		
		}

		switch _strings.ToLower(target) {
		
			case "bench:ci":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"Bench:Ci\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "Bench:Ci")
				}
				
				var arg0 *string
				var arg1 *string
				for x < len(args.Args) && _strings.HasPrefix(args.Args[x], "-") {
					_optArg := args.Args[x]
					_eqIdx := _strings.Index(_optArg, "=")
					var _optName, _optVal string
					if _eqIdx < 0 {
						_optName = _strings.ToLower(_optArg[1:])
						switch _optName {
						default:
							logger.Printf("invalid option %q for target \"Bench:Ci\", expected -name=value format\n", _optArg)
							_os.Exit(2)
						}
					} else {
						_optName = _strings.ToLower(_optArg[1:_eqIdx])
						_optVal = _optArg[_eqIdx+1:]
					}
					switch _optName {
					case "base":
						_tmp0 := _optVal
						arg0 = &_tmp0
					case "caches":
						_tmp1 := _optVal
						arg1 = &_tmp1
					default:
						logger.Printf("unknown option %q for target \"Bench:Ci\"\n", _optName)
						_os.Exit(2)
					}
					x++
				}
				wrapFn := func(ctx _context.Context) error {
					return Bench{}.Ci(ctx, arg0, arg1)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "bundle:config":
				expected := x + 1
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"Bundle:Config\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "Bundle:Config")
				}
				
			arg0 := args.Args[x]
			x++
				var arg1 *string
				var arg2 *string
				for x < len(args.Args) && _strings.HasPrefix(args.Args[x], "-") {
					_optArg := args.Args[x]
					_eqIdx := _strings.Index(_optArg, "=")
					var _optName, _optVal string
					if _eqIdx < 0 {
						_optName = _strings.ToLower(_optArg[1:])
						switch _optName {
						default:
							logger.Printf("invalid option %q for target \"Bundle:Config\", expected -name=value format\n", _optArg)
							_os.Exit(2)
						}
					} else {
						_optName = _strings.ToLower(_optArg[1:_eqIdx])
						_optVal = _optArg[_eqIdx+1:]
					}
					switch _optName {
					case "vars":
						_tmp1 := _optVal
						arg1 = &_tmp1
					case "user":
						_tmp2 := _optVal
						arg2 = &_tmp2
					default:
						logger.Printf("unknown option %q for target \"Bundle:Config\"\n", _optName)
						_os.Exit(2)
					}
					x++
				}
				wrapFn := func(ctx _context.Context) error {
					return Bundle{}.Config(arg0, arg1, arg2)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "bundle:validate":
				expected := x + 1
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"Bundle:Validate\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "Bundle:Validate")
				}
				
			arg0 := args.Args[x]
			x++
				var arg1 *bool
				var arg2 *bool
				var arg3 *string
				var arg4 *string
				for x < len(args.Args) && _strings.HasPrefix(args.Args[x], "-") {
					_optArg := args.Args[x]
					_eqIdx := _strings.Index(_optArg, "=")
					var _optName, _optVal string
					if _eqIdx < 0 {
						_optName = _strings.ToLower(_optArg[1:])
						switch _optName {
						case "strict":
							_optVal = "true"
						case "json":
							_optVal = "true"
						default:
							logger.Printf("invalid option %q for target \"Bundle:Validate\", expected -name=value format\n", _optArg)
							_os.Exit(2)
						}
					} else {
						_optName = _strings.ToLower(_optArg[1:_eqIdx])
						_optVal = _optArg[_eqIdx+1:]
					}
					switch _optName {
					case "strict":
						_tmp1, err := _strconv.ParseBool(_optVal)
						if err != nil {
							logger.Printf("can't convert option %q value %q to bool\n", _optName, _optVal)
							_os.Exit(2)
						}
						arg1 = &_tmp1
					case "json":
						_tmp2, err := _strconv.ParseBool(_optVal)
						if err != nil {
							logger.Printf("can't convert option %q value %q to bool\n", _optName, _optVal)
							_os.Exit(2)
						}
						arg2 = &_tmp2
					case "vars":
						_tmp3 := _optVal
						arg3 = &_tmp3
					case "user":
						_tmp4 := _optVal
						arg4 = &_tmp4
					default:
						logger.Printf("unknown option %q for target \"Bundle:Validate\"\n", _optName)
						_os.Exit(2)
					}
					x++
				}
				wrapFn := func(ctx _context.Context) error {
					return Bundle{}.Validate(arg0, arg1, arg2, arg3, arg4)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "ci:audit":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"CI:Audit\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "CI:Audit")
				}
				
				wrapFn := func(ctx _context.Context) error {
					return CI{}.Audit(ctx)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "ci:bandit":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"CI:Bandit\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "CI:Bandit")
				}
				
				wrapFn := func(ctx _context.Context) error {
					return CI{}.Bandit(ctx)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "ci:black":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"CI:Black\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "CI:Black")
				}
				
				wrapFn := func(ctx _context.Context) error {
					return CI{}.Black(ctx)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "ci:bundle":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"CI:Bundle\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "CI:Bundle")
				}
				
				wrapFn := func(ctx _context.Context) error {
					return CI{}.Bundle(ctx)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "ci:flake8":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"CI:Flake8\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "CI:Flake8")
				}
				
				wrapFn := func(ctx _context.Context) error {
					return CI{}.Flake8(ctx)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "ci:gotest":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"CI:GoTest\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "CI:GoTest")
				}
				
				wrapFn := func(ctx _context.Context) error {
					return CI{}.GoTest(ctx)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "ci:govet":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"CI:GoVet\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "CI:GoVet")
				}
				
				wrapFn := func(ctx _context.Context) error {
					return CI{}.GoVet(ctx)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "ci:gofmt":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"CI:Gofmt\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "CI:Gofmt")
				}
				
				wrapFn := func(ctx _context.Context) error {
					return CI{}.Gofmt(ctx)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "ci:gosec":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"CI:Gosec\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "CI:Gosec")
				}
				
				wrapFn := func(ctx _context.Context) error {
					return CI{}.Gosec(ctx)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "ci:govulncheck":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"CI:Govulncheck\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "CI:Govulncheck")
				}
				
				wrapFn := func(ctx _context.Context) error {
					return CI{}.Govulncheck(ctx)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "ci:isort":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"CI:Isort\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "CI:Isort")
				}
				
				wrapFn := func(ctx _context.Context) error {
					return CI{}.Isort(ctx)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "ci:mypy":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"CI:Mypy\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "CI:Mypy")
				}
				
				wrapFn := func(ctx _context.Context) error {
					return CI{}.Mypy(ctx)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "ci:pylint":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"CI:Pylint\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "CI:Pylint")
				}
				
				wrapFn := func(ctx _context.Context) error {
					return CI{}.Pylint(ctx)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "ci:pytest":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"CI:Pytest\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "CI:Pytest")
				}
				
				wrapFn := func(ctx _context.Context) error {
					return CI{}.Pytest(ctx)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "ci:quality":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"CI:Quality\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "CI:Quality")
				}
				
				wrapFn := func(ctx _context.Context) error {
					return CI{}.Quality(ctx)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "ci:reqaudit":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"CI:ReqAudit\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "CI:ReqAudit")
				}
				
				wrapFn := func(ctx _context.Context) error {
					return CI{}.ReqAudit(ctx)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "ci:secrets":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"CI:Secrets\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "CI:Secrets")
				}
				
				var arg0 *bool
				for x < len(args.Args) && _strings.HasPrefix(args.Args[x], "-") {
					_optArg := args.Args[x]
					_eqIdx := _strings.Index(_optArg, "=")
					var _optName, _optVal string
					if _eqIdx < 0 {
						_optName = _strings.ToLower(_optArg[1:])
						switch _optName {
						case "history":
							_optVal = "true"
						default:
							logger.Printf("invalid option %q for target \"CI:Secrets\", expected -name=value format\n", _optArg)
							_os.Exit(2)
						}
					} else {
						_optName = _strings.ToLower(_optArg[1:_eqIdx])
						_optVal = _optArg[_eqIdx+1:]
					}
					switch _optName {
					case "history":
						_tmp0, err := _strconv.ParseBool(_optVal)
						if err != nil {
							logger.Printf("can't convert option %q value %q to bool\n", _optName, _optVal)
							_os.Exit(2)
						}
						arg0 = &_tmp0
					default:
						logger.Printf("unknown option %q for target \"CI:Secrets\"\n", _optName)
						_os.Exit(2)
					}
					x++
				}
				wrapFn := func(ctx _context.Context) error {
					return CI{}.Secrets(ctx, arg0)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "ci:secretsbaseline":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"CI:SecretsBaseline\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "CI:SecretsBaseline")
				}
				
				var arg0 *bool
				var arg1 *string
				for x < len(args.Args) && _strings.HasPrefix(args.Args[x], "-") {
					_optArg := args.Args[x]
					_eqIdx := _strings.Index(_optArg, "=")
					var _optName, _optVal string
					if _eqIdx < 0 {
						_optName = _strings.ToLower(_optArg[1:])
						switch _optName {
						case "history":
							_optVal = "true"
						default:
							logger.Printf("invalid option %q for target \"CI:SecretsBaseline\", expected -name=value format\n", _optArg)
							_os.Exit(2)
						}
					} else {
						_optName = _strings.ToLower(_optArg[1:_eqIdx])
						_optVal = _optArg[_eqIdx+1:]
					}
					switch _optName {
					case "history":
						_tmp0, err := _strconv.ParseBool(_optVal)
						if err != nil {
							logger.Printf("can't convert option %q value %q to bool\n", _optName, _optVal)
							_os.Exit(2)
						}
						arg0 = &_tmp0
					case "reason":
						_tmp1 := _optVal
						arg1 = &_tmp1
					default:
						logger.Printf("unknown option %q for target \"CI:SecretsBaseline\"\n", _optName)
						_os.Exit(2)
					}
					x++
				}
				wrapFn := func(ctx _context.Context) error {
					return CI{}.SecretsBaseline(ctx, arg0, arg1)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "ci:security":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"CI:Security\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "CI:Security")
				}
				
				wrapFn := func(ctx _context.Context) error {
					return CI{}.Security(ctx)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "ci:staticcheck":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"CI:Staticcheck\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "CI:Staticcheck")
				}
				
				wrapFn := func(ctx _context.Context) error {
					return CI{}.Staticcheck(ctx)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "ci:unit":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"CI:Unit\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "CI:Unit")
				}
				
				wrapFn := func(ctx _context.Context) error {
					return CI{}.Unit(ctx)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "ci:workflows":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"CI:Workflows\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "CI:Workflows")
				}
				
				wrapFn := func(ctx _context.Context) error {
					return CI{}.Workflows(ctx)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "ci":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"Ci\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "Ci")
				}
				
				var arg0 *int
				var arg1 *bool
				var arg2 *bool
				var arg3 *bool
				var arg4 *bool
				var arg5 *string
				for x < len(args.Args) && _strings.HasPrefix(args.Args[x], "-") {
					_optArg := args.Args[x]
					_eqIdx := _strings.Index(_optArg, "=")
					var _optName, _optVal string
					if _eqIdx < 0 {
						_optName = _strings.ToLower(_optArg[1:])
						switch _optName {
						case "failfast":
							_optVal = "true"
						case "nocache":
							_optVal = "true"
						case "strict":
							_optVal = "true"
						case "history":
							_optVal = "true"
						default:
							logger.Printf("invalid option %q for target \"Ci\", expected -name=value format\n", _optArg)
							_os.Exit(2)
						}
					} else {
						_optName = _strings.ToLower(_optArg[1:_eqIdx])
						_optVal = _optArg[_eqIdx+1:]
					}
					switch _optName {
					case "j":
						_tmp0, err := _strconv.Atoi(_optVal)
						if err != nil {
							logger.Printf("can't convert option %q value %q to int\n", _optName, _optVal)
							_os.Exit(2)
						}
						arg0 = &_tmp0
					case "failfast":
						_tmp1, err := _strconv.ParseBool(_optVal)
						if err != nil {
							logger.Printf("can't convert option %q value %q to bool\n", _optName, _optVal)
							_os.Exit(2)
						}
						arg1 = &_tmp1
					case "nocache":
						_tmp2, err := _strconv.ParseBool(_optVal)
						if err != nil {
							logger.Printf("can't convert option %q value %q to bool\n", _optName, _optVal)
							_os.Exit(2)
						}
						arg2 = &_tmp2
					case "strict":
						_tmp3, err := _strconv.ParseBool(_optVal)
						if err != nil {
							logger.Printf("can't convert option %q value %q to bool\n", _optName, _optVal)
							_os.Exit(2)
						}
						arg3 = &_tmp3
					case "history":
						_tmp4, err := _strconv.ParseBool(_optVal)
						if err != nil {
							logger.Printf("can't convert option %q value %q to bool\n", _optName, _optVal)
							_os.Exit(2)
						}
						arg4 = &_tmp4
					case "only":
						_tmp5 := _optVal
						arg5 = &_tmp5
					default:
						logger.Printf("unknown option %q for target \"Ci\"\n", _optName)
						_os.Exit(2)
					}
					x++
				}
				wrapFn := func(ctx _context.Context) error {
					return Ci(ctx, arg0, arg1, arg2, arg3, arg4, arg5)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "clean":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"Clean\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "Clean")
				}
				
				var arg0 *_time.Duration
				for x < len(args.Args) && _strings.HasPrefix(args.Args[x], "-") {
					_optArg := args.Args[x]
					_eqIdx := _strings.Index(_optArg, "=")
					var _optName, _optVal string
					if _eqIdx < 0 {
						_optName = _strings.ToLower(_optArg[1:])
						switch _optName {
						default:
							logger.Printf("invalid option %q for target \"Clean\", expected -name=value format\n", _optArg)
							_os.Exit(2)
						}
					} else {
						_optName = _strings.ToLower(_optArg[1:_eqIdx])
						_optVal = _optArg[_eqIdx+1:]
					}
					switch _optName {
					case "keep":
						_tmp0, err := _time.ParseDuration(_optVal)
						if err != nil {
							logger.Printf("can't convert option %q value %q to time.Duration\n", _optName, _optVal)
							_os.Exit(2)
						}
						arg0 = &_tmp0
					default:
						logger.Printf("unknown option %q for target \"Clean\"\n", _optName)
						_os.Exit(2)
					}
					x++
				}
				wrapFn := func(ctx _context.Context) error {
					return Clean(arg0)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "demo":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"Demo\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "Demo")
				}
				
				var arg0 *float64
				var arg1 *bool
				for x < len(args.Args) && _strings.HasPrefix(args.Args[x], "-") {
					_optArg := args.Args[x]
					_eqIdx := _strings.Index(_optArg, "=")
					var _optName, _optVal string
					if _eqIdx < 0 {
						_optName = _strings.ToLower(_optArg[1:])
						switch _optName {
						case "keep":
							_optVal = "true"
						default:
							logger.Printf("invalid option %q for target \"Demo\", expected -name=value format\n", _optArg)
							_os.Exit(2)
						}
					} else {
						_optName = _strings.ToLower(_optArg[1:_eqIdx])
						_optVal = _optArg[_eqIdx+1:]
					}
					switch _optName {
					case "timescale":
						_tmp0, err := _strconv.ParseFloat(_optVal, 64)
						if err != nil {
							logger.Printf("can't convert option %q value %q to float64\n", _optName, _optVal)
							_os.Exit(2)
						}
						arg0 = &_tmp0
					case "keep":
						_tmp1, err := _strconv.ParseBool(_optVal)
						if err != nil {
							logger.Printf("can't convert option %q value %q to bool\n", _optName, _optVal)
							_os.Exit(2)
						}
						arg1 = &_tmp1
					default:
						logger.Printf("unknown option %q for target \"Demo\"\n", _optName)
						_os.Exit(2)
					}
					x++
				}
				wrapFn := func(ctx _context.Context) error {
					return Demo(ctx, arg0, arg1)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "deploy:dev":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"Deploy:Dev\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "Deploy:Dev")
				}
				
				var arg0 *string
				var arg1 *string
				for x < len(args.Args) && _strings.HasPrefix(args.Args[x], "-") {
					_optArg := args.Args[x]
					_eqIdx := _strings.Index(_optArg, "=")
					var _optName, _optVal string
					if _eqIdx < 0 {
						_optName = _strings.ToLower(_optArg[1:])
						switch _optName {
						default:
							logger.Printf("invalid option %q for target \"Deploy:Dev\", expected -name=value format\n", _optArg)
							_os.Exit(2)
						}
					} else {
						_optName = _strings.ToLower(_optArg[1:_eqIdx])
						_optVal = _optArg[_eqIdx+1:]
					}
					switch _optName {
					case "release":
						_tmp0 := _optVal
						arg0 = &_tmp0
					case "engine":
						_tmp1 := _optVal
						arg1 = &_tmp1
					default:
						logger.Printf("unknown option %q for target \"Deploy:Dev\"\n", _optName)
						_os.Exit(2)
					}
					x++
				}
				wrapFn := func(ctx _context.Context) error {
					return Deploy{}.Dev(ctx, arg0, arg1)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "deploy:prod":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"Deploy:Prod\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "Deploy:Prod")
				}
				
				var arg0 *bool
				var arg1 *string
				for x < len(args.Args) && _strings.HasPrefix(args.Args[x], "-") {
					_optArg := args.Args[x]
					_eqIdx := _strings.Index(_optArg, "=")
					var _optName, _optVal string
					if _eqIdx < 0 {
						_optName = _strings.ToLower(_optArg[1:])
						switch _optName {
						case "yes":
							_optVal = "true"
						default:
							logger.Printf("invalid option %q for target \"Deploy:Prod\", expected -name=value format\n", _optArg)
							_os.Exit(2)
						}
					} else {
						_optName = _strings.ToLower(_optArg[1:_eqIdx])
						_optVal = _optArg[_eqIdx+1:]
					}
					switch _optName {
					case "yes":
						_tmp0, err := _strconv.ParseBool(_optVal)
						if err != nil {
							logger.Printf("can't convert option %q value %q to bool\n", _optName, _optVal)
							_os.Exit(2)
						}
						arg0 = &_tmp0
					case "engine":
						_tmp1 := _optVal
						arg1 = &_tmp1
					default:
						logger.Printf("unknown option %q for target \"Deploy:Prod\"\n", _optName)
						_os.Exit(2)
					}
					x++
				}
				wrapFn := func(ctx _context.Context) error {
					return Deploy{}.Prod(ctx, arg0, arg1)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "deploy:staging":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"Deploy:Staging\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "Deploy:Staging")
				}
				
				var arg0 *bool
				var arg1 *string
				for x < len(args.Args) && _strings.HasPrefix(args.Args[x], "-") {
					_optArg := args.Args[x]
					_eqIdx := _strings.Index(_optArg, "=")
					var _optName, _optVal string
					if _eqIdx < 0 {
						_optName = _strings.ToLower(_optArg[1:])
						switch _optName {
						case "yes":
							_optVal = "true"
						default:
							logger.Printf("invalid option %q for target \"Deploy:Staging\", expected -name=value format\n", _optArg)
							_os.Exit(2)
						}
					} else {
						_optName = _strings.ToLower(_optArg[1:_eqIdx])
						_optVal = _optArg[_eqIdx+1:]
					}
					switch _optName {
					case "yes":
						_tmp0, err := _strconv.ParseBool(_optVal)
						if err != nil {
							logger.Printf("can't convert option %q value %q to bool\n", _optName, _optVal)
							_os.Exit(2)
						}
						arg0 = &_tmp0
					case "engine":
						_tmp1 := _optVal
						arg1 = &_tmp1
					default:
						logger.Printf("unknown option %q for target \"Deploy:Staging\"\n", _optName)
						_os.Exit(2)
					}
					x++
				}
				wrapFn := func(ctx _context.Context) error {
					return Deploy{}.Staging(ctx, arg0, arg1)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "emulator:serve":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"Emulator:Serve\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "Emulator:Serve")
				}
				
				var arg0 *int
				var arg1 *string
				var arg2 *float64
				for x < len(args.Args) && _strings.HasPrefix(args.Args[x], "-") {
					_optArg := args.Args[x]
					_eqIdx := _strings.Index(_optArg, "=")
					var _optName, _optVal string
					if _eqIdx < 0 {
						_optName = _strings.ToLower(_optArg[1:])
						switch _optName {
						default:
							logger.Printf("invalid option %q for target \"Emulator:Serve\", expected -name=value format\n", _optArg)
							_os.Exit(2)
						}
					} else {
						_optName = _strings.ToLower(_optArg[1:_eqIdx])
						_optVal = _optArg[_eqIdx+1:]
					}
					switch _optName {
					case "port":
						_tmp0, err := _strconv.Atoi(_optVal)
						if err != nil {
							logger.Printf("can't convert option %q value %q to int\n", _optName, _optVal)
							_os.Exit(2)
						}
						arg0 = &_tmp0
					case "state":
						_tmp1 := _optVal
						arg1 = &_tmp1
					case "timescale":
						_tmp2, err := _strconv.ParseFloat(_optVal, 64)
						if err != nil {
							logger.Printf("can't convert option %q value %q to float64\n", _optName, _optVal)
							_os.Exit(2)
						}
						arg2 = &_tmp2
					default:
						logger.Printf("unknown option %q for target \"Emulator:Serve\"\n", _optName)
						_os.Exit(2)
					}
					x++
				}
				wrapFn := func(ctx _context.Context) error {
					return Emulator{}.Serve(ctx, arg0, arg1, arg2)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "plan":
				expected := x + 1
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"Plan\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "Plan")
				}
				
			arg0 := args.Args[x]
			x++
				wrapFn := func(ctx _context.Context) error {
					return Plan(ctx, arg0)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "release:notes":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"Release:Notes\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "Release:Notes")
				}
				
				var arg0 *string
				for x < len(args.Args) && _strings.HasPrefix(args.Args[x], "-") {
					_optArg := args.Args[x]
					_eqIdx := _strings.Index(_optArg, "=")
					var _optName, _optVal string
					if _eqIdx < 0 {
						_optName = _strings.ToLower(_optArg[1:])
						switch _optName {
						default:
							logger.Printf("invalid option %q for target \"Release:Notes\", expected -name=value format\n", _optArg)
							_os.Exit(2)
						}
					} else {
						_optName = _strings.ToLower(_optArg[1:_eqIdx])
						_optVal = _optArg[_eqIdx+1:]
					}
					switch _optName {
					case "tag":
						_tmp0 := _optVal
						arg0 = &_tmp0
					default:
						logger.Printf("unknown option %q for target \"Release:Notes\"\n", _optName)
						_os.Exit(2)
					}
					x++
				}
				wrapFn := func(ctx _context.Context) error {
					return Release{}.Notes(ctx, arg0)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "rollback":
				expected := x + 1
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"Rollback\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "Rollback")
				}
				
			arg0 := args.Args[x]
			x++
				var arg1 *string
				var arg2 *string
				var arg3 *bool
				for x < len(args.Args) && _strings.HasPrefix(args.Args[x], "-") {
					_optArg := args.Args[x]
					_eqIdx := _strings.Index(_optArg, "=")
					var _optName, _optVal string
					if _eqIdx < 0 {
						_optName = _strings.ToLower(_optArg[1:])
						switch _optName {
						case "yes":
							_optVal = "true"
						default:
							logger.Printf("invalid option %q for target \"Rollback\", expected -name=value format\n", _optArg)
							_os.Exit(2)
						}
					} else {
						_optName = _strings.ToLower(_optArg[1:_eqIdx])
						_optVal = _optArg[_eqIdx+1:]
					}
					switch _optName {
					case "to":
						_tmp1 := _optVal
						arg1 = &_tmp1
					case "version":
						_tmp2 := _optVal
						arg2 = &_tmp2
					case "yes":
						_tmp3, err := _strconv.ParseBool(_optVal)
						if err != nil {
							logger.Printf("can't convert option %q value %q to bool\n", _optName, _optVal)
							_os.Exit(2)
						}
						arg3 = &_tmp3
					default:
						logger.Printf("unknown option %q for target \"Rollback\"\n", _optName)
						_os.Exit(2)
					}
					x++
				}
				wrapFn := func(ctx _context.Context) error {
					return Rollback(ctx, arg0, arg1, arg2, arg3)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "status":
				expected := x + 1
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"Status\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "Status")
				}
				
			arg0 := args.Args[x]
			x++
				wrapFn := func(ctx _context.Context) error {
					return Status(ctx, arg0)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "test":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"Test\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "Test")
				}
				
				wrapFn := func(ctx _context.Context) error {
					return Test(ctx)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "unlock":
				expected := x + 1
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"Unlock\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "Unlock")
				}
				
			arg0 := args.Args[x]
			x++
				var arg1 *bool
				for x < len(args.Args) && _strings.HasPrefix(args.Args[x], "-") {
					_optArg := args.Args[x]
					_eqIdx := _strings.Index(_optArg, "=")
					var _optName, _optVal string
					if _eqIdx < 0 {
						_optName = _strings.ToLower(_optArg[1:])
						switch _optName {
						case "yes":
							_optVal = "true"
						default:
							logger.Printf("invalid option %q for target \"Unlock\", expected -name=value format\n", _optArg)
							_os.Exit(2)
						}
					} else {
						_optName = _strings.ToLower(_optArg[1:_eqIdx])
						_optVal = _optArg[_eqIdx+1:]
					}
					switch _optName {
					case "yes":
						_tmp1, err := _strconv.ParseBool(_optVal)
						if err != nil {
							logger.Printf("can't convert option %q value %q to bool\n", _optName, _optVal)
							_os.Exit(2)
						}
						arg1 = &_tmp1
					default:
						logger.Printf("unknown option %q for target \"Unlock\"\n", _optName)
						_os.Exit(2)
					}
					x++
				}
				wrapFn := func(ctx _context.Context) error {
					return Unlock(ctx, arg0, arg1)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "verify:dev":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"Verify:Dev\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "Verify:Dev")
				}
				
				var arg0 *bool
				var arg1 *bool
				for x < len(args.Args) && _strings.HasPrefix(args.Args[x], "-") {
					_optArg := args.Args[x]
					_eqIdx := _strings.Index(_optArg, "=")
					var _optName, _optVal string
					if _eqIdx < 0 {
						_optName = _strings.ToLower(_optArg[1:])
						switch _optName {
						case "load":
							_optVal = "true"
						case "smoke":
							_optVal = "true"
						default:
							logger.Printf("invalid option %q for target \"Verify:Dev\", expected -name=value format\n", _optArg)
							_os.Exit(2)
						}
					} else {
						_optName = _strings.ToLower(_optArg[1:_eqIdx])
						_optVal = _optArg[_eqIdx+1:]
					}
					switch _optName {
					case "load":
						_tmp0, err := _strconv.ParseBool(_optVal)
						if err != nil {
							logger.Printf("can't convert option %q value %q to bool\n", _optName, _optVal)
							_os.Exit(2)
						}
						arg0 = &_tmp0
					case "smoke":
						_tmp1, err := _strconv.ParseBool(_optVal)
						if err != nil {
							logger.Printf("can't convert option %q value %q to bool\n", _optName, _optVal)
							_os.Exit(2)
						}
						arg1 = &_tmp1
					default:
						logger.Printf("unknown option %q for target \"Verify:Dev\"\n", _optName)
						_os.Exit(2)
					}
					x++
				}
				wrapFn := func(ctx _context.Context) error {
					return Verify{}.Dev(ctx, arg0, arg1)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "verify:prod":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"Verify:Prod\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "Verify:Prod")
				}
				
				var arg0 *bool
				var arg1 *bool
				for x < len(args.Args) && _strings.HasPrefix(args.Args[x], "-") {
					_optArg := args.Args[x]
					_eqIdx := _strings.Index(_optArg, "=")
					var _optName, _optVal string
					if _eqIdx < 0 {
						_optName = _strings.ToLower(_optArg[1:])
						switch _optName {
						case "load":
							_optVal = "true"
						case "smoke":
							_optVal = "true"
						default:
							logger.Printf("invalid option %q for target \"Verify:Prod\", expected -name=value format\n", _optArg)
							_os.Exit(2)
						}
					} else {
						_optName = _strings.ToLower(_optArg[1:_eqIdx])
						_optVal = _optArg[_eqIdx+1:]
					}
					switch _optName {
					case "load":
						_tmp0, err := _strconv.ParseBool(_optVal)
						if err != nil {
							logger.Printf("can't convert option %q value %q to bool\n", _optName, _optVal)
							_os.Exit(2)
						}
						arg0 = &_tmp0
					case "smoke":
						_tmp1, err := _strconv.ParseBool(_optVal)
						if err != nil {
							logger.Printf("can't convert option %q value %q to bool\n", _optName, _optVal)
							_os.Exit(2)
						}
						arg1 = &_tmp1
					default:
						logger.Printf("unknown option %q for target \"Verify:Prod\"\n", _optName)
						_os.Exit(2)
					}
					x++
				}
				wrapFn := func(ctx _context.Context) error {
					return Verify{}.Prod(ctx, arg0, arg1)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
			case "verify:staging":
				expected := x + 0
				if expected > len(args.Args) {
					// note that expected and args at this point include the arg for the target itself
					// so we subtract 1 here to show the number of args without the target.
					logger.Printf("not enough arguments for target \"Verify:Staging\", expected %v, got %v\n", expected-1, len(args.Args)-1)
					_os.Exit(2)
				}
				if args.Verbose {
					logger.Println("Running target:", "Verify:Staging")
				}
				
				var arg0 *bool
				for x < len(args.Args) && _strings.HasPrefix(args.Args[x], "-") {
					_optArg := args.Args[x]
					_eqIdx := _strings.Index(_optArg, "=")
					var _optName, _optVal string
					if _eqIdx < 0 {
						_optName = _strings.ToLower(_optArg[1:])
						switch _optName {
						case "smoke":
							_optVal = "true"
						default:
							logger.Printf("invalid option %q for target \"Verify:Staging\", expected -name=value format\n", _optArg)
							_os.Exit(2)
						}
					} else {
						_optName = _strings.ToLower(_optArg[1:_eqIdx])
						_optVal = _optArg[_eqIdx+1:]
					}
					switch _optName {
					case "smoke":
						_tmp0, err := _strconv.ParseBool(_optVal)
						if err != nil {
							logger.Printf("can't convert option %q value %q to bool\n", _optName, _optVal)
							_os.Exit(2)
						}
						arg0 = &_tmp0
					default:
						logger.Printf("unknown option %q for target \"Verify:Staging\"\n", _optName)
						_os.Exit(2)
					}
					x++
				}
				wrapFn := func(ctx _context.Context) error {
					return Verify{}.Staging(ctx, arg0)
				}
				ret := runTarget(logger, wrapFn)
				handleError(logger, ret)
		
		default:
			logger.Printf("Unknown target specified: %q\n", target)
			_os.Exit(2)
		}
	}
}




