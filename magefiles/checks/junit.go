package checks

import (
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// JUnit XML as CI systems read it: suites of cases with failure, error
// and skipped children. Written for go test (converted from -json), read
// back for pytest's failures.

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       float64         `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	ClassName string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Time      float64       `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr,omitempty"`
	Body    string `xml:",chardata"`
}

func writeJUnit(path string, s junitSuites) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := xml.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return os.WriteFile(path, append([]byte(xml.Header), append(b, '\n')...), 0o644)
}

// readJUnit parses a report whose root is <testsuites> or a single
// <testsuite> (pytest writes either, by version).
func readJUnit(r io.Reader) (junitSuites, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return junitSuites{}, err
	}
	var s junitSuites
	if strings.Contains(string(b[:min(len(b), 512)]), "<testsuites") {
		err = xml.Unmarshal(b, &s)
	} else {
		var one junitSuite
		err = xml.Unmarshal(b, &one)
		s.Suites = []junitSuite{one}
	}
	if err != nil {
		return junitSuites{}, fmt.Errorf("parse JUnit XML: %w", err)
	}
	return s, nil
}
