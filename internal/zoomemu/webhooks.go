package zoomemu

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// SendWebhook POSTs a Zoom event notification to url, signed as Zoom signs them with
// Config.WebhookSecretToken, and returns the status it got.
func (e *Emulator) SendWebhook(ctx context.Context, url, event string, payload map[string]any) (int, error) {
	now := e.cfg.Now()
	body, err := json.Marshal(map[string]any{"event": event, "payload": payload, "event_ts": now.UnixMilli()})
	if err != nil {
		return 0, err
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(e.cfg.WebhookSecretToken))
	fmt.Fprintf(mac, "v0:%s:%s", ts, body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-zm-request-timestamp", ts)
	req.Header.Set("x-zm-signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// MeetingEvent is the payload of meeting.created, meeting.updated and meeting.deleted: operator
// is who acted, which may not be the host.
func MeetingEvent(meetingID int64, hostID, operatorID string) map[string]any {
	return map[string]any{"account_id": "emu-account", "operator": operatorID + "@example.com", "operator_id": operatorID,
		"object": map[string]any{"id": meetingID, "uuid": "emu-" + strconv.FormatInt(meetingID, 36), "host_id": hostID,
			"topic": "Meeting", "type": 2}}
}

// UserUpdatedEvent is the payload of user.updated when a user's PMI changes from oldPMI (0: not
// said) to pmi. As Zoom sends it, object holds the changed fields and old_object their values
// before.
func UserUpdatedEvent(userID string, oldPMI, pmi int64) map[string]any {
	payload := map[string]any{"account_id": "emu-account", "operator_id": userID, "object": map[string]any{"id": userID, "pmi": pmi}}
	if oldPMI != 0 {
		payload["old_object"] = map[string]any{"id": userID, "pmi": oldPMI}
	}
	return payload
}

// ChangePMI gives a user a new personal meeting id and returns the user.updated payload that
// says so.
func (e *Emulator) ChangePMI(user string, pmi int64) (map[string]any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.user(user)
	if u == nil {
		return nil, fmt.Errorf("zoomemu: no user %q", user)
	}
	e.schedule.Lock()
	old := u.PMI
	u.PMI = pmi
	e.schedule.Unlock()
	return UserUpdatedEvent(u.ID, old, pmi), nil
}

// ScheduleMeeting gives a user a scheduled meeting (or, with deleted, takes it away), as creating
// or deleting it in Zoom does, and returns the payload of the meeting.created or meeting.deleted
// event that says so.
func (e *Emulator) ScheduleMeeting(user string, meetingID int64, deleted bool) (map[string]any, error) {
	e.mu.Lock()
	u := e.user(user)
	e.mu.Unlock()
	if u == nil {
		return nil, fmt.Errorf("zoomemu: no user %q", user)
	}
	e.schedule.Lock()
	u.Meetings = slices.DeleteFunc(u.Meetings, func(id int64) bool { return id == meetingID })
	if !deleted {
		u.Meetings = append(u.Meetings, meetingID)
	}
	e.schedule.Unlock()
	return MeetingEvent(meetingID, u.ID, u.ID), nil
}

// Deauthorize does what a user removing the app in Zoom does: their tokens are revoked, and
// app_deauthorized is sent to url.
func (e *Emulator) Deauthorize(ctx context.Context, user, url string) (int, error) {
	e.mu.Lock()
	u := e.user(user)
	clientID := ""
	if e.cfg.OAuthApp != nil {
		clientID = e.cfg.OAuthApp.ClientID
	}
	if u != nil {
		e.revokeUser(u)
	}
	e.mu.Unlock()
	if u == nil {
		return 0, fmt.Errorf("zoomemu: no user %q", user)
	}
	return e.SendWebhook(ctx, url, "app_deauthorized", map[string]any{"account_id": u.AccountID, "user_id": u.ID,
		"client_id": clientID, "deauthorization_time": e.cfg.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00"), "signature": "emu"})
}
