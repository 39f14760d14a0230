package checks

import "io"

// writerPair sends a tool's output both to the task log and to a buffer the
// check parses.
func writerPair(log, capture io.Writer) io.Writer {
	return io.MultiWriter(log, capture)
}
