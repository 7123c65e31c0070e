package simserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"wagraph/internal/wasim"
)

// saveEvery is how often a simulator with a state file writes it (when it
// changed); it is written on Close too.
const saveEvery = 10 * time.Second

// loadState reads a state file; a file that does not exist yet is no
// state.
func loadState(path string) (*wasim.State, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the state file: %w", err)
	}
	var st wasim.State
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("state file %s is not a simulator's state (%v); move it away to start afresh", path, err)
	}
	return &st, nil
}

// stateWriter writes a simulator's state to its file, atomically (a
// temporary file renamed over it), and only when it changed.
type stateWriter struct {
	path string
	sim  *wasim.Simulator
	last []byte
}

func (w *stateWriter) save() error {
	raw, err := json.Marshal(w.sim.Snapshot())
	if err != nil {
		return err
	}
	if bytes.Equal(raw, w.last) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(w.path), filepath.Base(w.path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write the state file: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err := tmp.Write(raw); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write the state file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write the state file: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil { // it holds private keys
		return err
	}
	if err := os.Rename(tmp.Name(), w.path); err != nil {
		return fmt.Errorf("write the state file: %w", err)
	}
	w.last = raw
	return nil
}
