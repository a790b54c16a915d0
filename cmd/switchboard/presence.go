package main

import (
	"errors"

	"switchboard/api"
	"switchboard/signaling"
)

// presenceAdapter serves the API's users endpoints from the signaling
// server, which owns users' availability, so package api need not import
// signaling.
type presenceAdapter struct {
	sig *signaling.Server
}

// UserPresences reports every configured user's availability.
func (a presenceAdapter) UserPresences() []api.UserPresence {
	users := a.sig.Users()
	out := make([]api.UserPresence, len(users))
	for i, u := range users {
		out[i] = api.UserPresence{
			ID: u.ID, Name: u.Name, Team: u.Team, Status: u.Status,
			Tabs: u.Tabs, Available: u.Available, Reason: u.Reason,
		}
	}
	return out
}

// presenceErrors pairs each signaling sentinel with the api one the users
// endpoints branch on.
var presenceErrors = []struct{ sig, api error }{
	{signaling.ErrUnknownUser, api.ErrUnknownUser},
	{signaling.ErrBadStatus, api.ErrBadStatus},
	{signaling.ErrNoTab, api.ErrNoTab},
}

// SetStatus sets a signed-in user's status; its errors match both the
// signaling and the api sentinels.
func (a presenceAdapter) SetStatus(user, status string) error {
	err := a.sig.SetStatus(user, status)
	if err == nil {
		return nil
	}
	for _, m := range presenceErrors {
		if errors.Is(err, m.sig) {
			return mappedError{err: err, as: m.api}
		}
	}
	return err
}

// mappedError is a signaling error that also matches its api counterpart,
// keeping the original message.
type mappedError struct {
	err, as error
}

func (e mappedError) Error() string   { return e.err.Error() }
func (e mappedError) Unwrap() []error { return []error{e.err, e.as} }
