// Package probecache keeps a program's answer on disk for as long as the
// files that decide it are unchanged, so a question asked on every run
// (which modules does this interpreter have?) starts the program only
// after something it reads has changed.
//
// An entry names the files that decide its answer and what they looked
// like (size, modification time, or absent). Loading re-reads those
// stamps: any difference, a file that does not parse, or another format
// is a miss, never an answer. Entries are replaced whole (atomicfile), so
// concurrent runs each see a whole entry.
package probecache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/hitl-mlops/interrupt-agent/magefiles/atomicfile"
)

// Format is the entry layout's version; entries of another one are misses.
const Format = 1

// RacyWindow is how close to the question's start a file may have changed
// and still be trusted: a change during the program's run may or may not
// be in its answer, and coarse file system clocks round times down.
const RacyWindow = 2 * time.Second

// Cache is a directory of entries.
type Cache struct {
	Dir string
}

// Stamp is what one file looked like.
type Stamp struct {
	Path    string `json:"path"`
	Missing bool   `json:"missing,omitempty"`
	Size    int64  `json:"size,omitempty"`
	ModTime int64  `json:"mtime,omitempty"` // Unix nanoseconds
}

// StampOf stats path (following symlinks). An absent file is a stamp too:
// its appearing changes the answer as much as an edit.
func StampOf(path string) (Stamp, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Stamp{Path: path, Missing: true}, nil
	case err != nil:
		return Stamp{}, fmt.Errorf("stamp %s: %w", path, err)
	}
	return Stamp{Path: path, Size: fi.Size(), ModTime: fi.ModTime().UnixNano()}, nil
}

type entry struct {
	Format int     `json:"format"`
	Key    string  `json:"key"`
	Stamps []Stamp `json:"stamps"`
	Answer string  `json:"answer"` // text, so an entry reads plainly
}

// path is the entry file for key: one file per key, so a fresh answer
// replaces a stale one instead of piling up beside it.
func (c Cache) path(key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(c.Dir, hex.EncodeToString(sum[:16])+".json")
}

// Load returns the answer stored for key when every file it depends on
// still looks as it did when the answer was stored.
func (c Cache) Load(key string) ([]byte, bool) {
	// #nosec G304 -- an entry file of this cache, named by a hash of the key
	b, err := os.ReadFile(c.path(key))
	if err != nil {
		return nil, false
	}
	var e entry
	if json.Unmarshal(b, &e) != nil || e.Format != Format || e.Key != key || len(e.Stamps) == 0 {
		return nil, false
	}
	for _, s := range e.Stamps {
		now, err := StampOf(s.Path)
		if err != nil || now != s {
			return nil, false
		}
	}
	return []byte(e.Answer), true
}

// Store keeps answer for key, valid while the files look as they do now.
// started is when the program that gave the answer started: when a file
// changed since (or within RacyWindow before), the answer may predate the
// change, so nothing is stored and the next run asks again.
func (c Cache) Store(key string, started time.Time, files []string, answer []byte) error {
	if len(files) == 0 {
		return errors.New("probecache: an answer must depend on at least one file")
	}
	stamps := make([]Stamp, 0, len(files))
	for _, f := range files {
		s, err := StampOf(f)
		if err != nil {
			return err
		}
		if !s.Missing && s.ModTime > started.Add(-RacyWindow).UnixNano() {
			return nil
		}
		stamps = append(stamps, s)
	}
	b, err := json.Marshal(entry{Format: Format, Key: key, Stamps: stamps, Answer: string(answer)})
	if err != nil {
		return fmt.Errorf("probecache: encode entry: %w", err)
	}
	if err := atomicfile.Write(c.path(key), b, 0o600); err != nil {
		return fmt.Errorf("probecache: %w", err)
	}
	return nil
}
