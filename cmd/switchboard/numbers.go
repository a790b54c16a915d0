package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"switchboard/api"
	"switchboard/call"
	"switchboard/config"
	"switchboard/store"
)

// loadNumberSettings seeds the store with the configuration's numbers at
// their first start and takes the settings a runtime update left for the
// others, so API changes survive a restart. Stored settings that the
// current configuration no longer accepts (a trunk or team since removed)
// are logged and the file's settings used.
func loadNumberSettings(cfg *config.Config, st *store.Store, log *slog.Logger) error {
	seed := make(map[string][]byte, len(cfg.Numbers))
	for _, n := range cfg.Numbers {
		if len(n.Raw) > 0 {
			seed[n.Number] = n.Raw
		}
	}
	seeded, err := st.SeedNumberSettings(seed)
	if err != nil {
		return fmt.Errorf("seeding number settings: %w", err)
	}
	if len(seeded) > 0 {
		log.Info("number settings seeded from the configuration", "numbers", seeded)
	}
	for i := range cfg.Numbers {
		n := &cfg.Numbers[i]
		raw, err := st.NumberSettings(n.Number)
		if err != nil || bytes.Equal(raw, n.Raw) {
			continue
		}
		updated, err := cfg.ParseNumber(raw, n.Number)
		if err != nil {
			log.Error("stored settings of a number are invalid under this configuration; using the file's", "number", n.Number, "error", err)
			continue
		}
		*n = updated
		log.Info("number settings changed over the API are in effect", "number", n.Number)
	}
	return nil
}

// numberAdmin implements api.NumberAdmin over the configuration (the
// rules), the store (what is saved) and the engine (what new calls use).
type numberAdmin struct {
	mu     sync.Mutex // one update at a time: validate, save, apply
	cfg    *config.Config
	st     *store.Store
	engine *call.Engine
}

func (a *numberAdmin) Numbers() []api.NumberSettings {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]api.NumberSettings, 0, len(a.cfg.Numbers))
	for _, n := range a.cfg.Numbers {
		out = append(out, api.NumberSettings{Number: n.Number, Name: n.Name, Owner: n.Owner, Settings: n.Raw})
	}
	return out
}

func (a *numberAdmin) UpdateNumber(number string, body []byte) (api.NumberSettings, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n, err := a.cfg.ParseNumber(body, number)
	var se *config.SettingsError
	if errors.As(err, &se) {
		bad := &api.InvalidSettings{}
		for _, p := range se.Problems {
			bad.Problems = append(bad.Problems, api.FieldProblem{Field: p.Field, Message: p.Msg})
		}
		return api.NumberSettings{}, bad
	}
	if err != nil {
		return api.NumberSettings{}, err
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, n.Raw); err != nil {
		return api.NumberSettings{}, err
	}
	n.Raw = compact.Bytes()
	// Saved first: a change that is not on disk must not be in effect.
	if err := a.st.PutNumberSettings(number, n.Raw); err != nil {
		return api.NumberSettings{}, err
	}
	a.engine.SetNumber(engineNumber(a.cfg, n))
	for i := range a.cfg.Numbers {
		if a.cfg.Numbers[i].Number == number {
			a.cfg.Numbers[i] = n
		}
	}
	return api.NumberSettings{Number: n.Number, Name: n.Name, Owner: n.Owner, Settings: n.Raw}, nil
}
