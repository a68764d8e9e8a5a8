package main

import (
	"errors"
	"os"

	"github.com/parleychat/parley/internal/local"
)

// rieConfig is --lambda-rie and --rie-path: nil without --lambda-rie. The functions are
// built from the repository in the working directory (make run starts parley local there)
// into a temporary directory, and the emulators' and functions' output goes to stderr.
func rieConfig(enabled bool, emulator string) (*local.RIEConfig, error) {
	if !enabled {
		if emulator != "" {
			return nil, errors.New("--rie-path names the emulator of --lambda-rie: give --lambda-rie too")
		}
		return nil, nil
	}
	return &local.RIEConfig{Emulator: emulator, Output: os.Stderr}, nil
}
