package verify

import (
	"os"
	"testing"
)

// FuzzParseCases: any input is either rejected or yields cases that pass
// validation, never a panic.
func FuzzParseCases(f *testing.F) {
	for _, p := range []string{repoCases, "testdata/cases.json"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"cases":[{"name":"a","request":{"message":"x"},"expect":{"status":"completed"},"resume":null}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cases, err := ParseCases(data)
		if err != nil {
			return
		}
		if err := ValidateCases(cases); err != nil {
			t.Fatalf("parsed cases fail validation: %v", err)
		}
		for _, c := range cases {
			if c.Resume != nil && !c.Expect.Interrupt {
				t.Fatalf("case %q resumes without an interrupt", c.Name)
			}
		}
	})
}
