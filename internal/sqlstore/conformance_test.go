package sqlstore_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zoomtoken/zoomtoken/internal/connections"
	"github.com/zoomtoken/zoomtoken/internal/fakeclock"
	"github.com/zoomtoken/zoomtoken/internal/outbox"
	"github.com/zoomtoken/zoomtoken/internal/seal"
	"github.com/zoomtoken/zoomtoken/internal/sqlstore"
)

var ctx = context.Background()

func newKey(tb testing.TB) []byte {
	key := make([]byte, seal.KeySize)
	rand.Read(key)
	return key
}

func newVault(tb testing.TB, keys ...[]byte) *connections.Vault {
	tb.Helper()
	ring, err := seal.NewKeyring(keys...)
	if err != nil {
		tb.Fatal(err)
	}
	return connections.NewVault(ring)
}

// randomToken looks like a Zoom token and is unique, so finding it in a dump means a leak.
func randomToken(prefix string) string {
	b := make([]byte, 24)
	rand.Read(b)
	return prefix + "." + base64.RawURLEncoding.EncodeToString(b)
}

// newConnection returns a connection for Zoom user zid with fresh tokens sealed by v, and the
// tokens in plain text.
func newConnection(tb testing.TB, v *connections.Vault, zid string) (connections.Connection, connections.Tokens) {
	tb.Helper()
	plain := connections.Tokens{
		Access:          randomToken("access"),
		Refresh:         randomToken("refresh"),
		AccessExpiresAt: time.UnixMilli(time.Now().Add(time.Hour).UnixMilli()).UTC(),
	}
	sealed, err := v.Seal(zid, plain)
	if err != nil {
		tb.Fatal(err)
	}
	return connections.Connection{
		ID:            connections.NewID(),
		ZoomUserID:    zid,
		ZoomAccountID: "acct-" + zid,
		Email:         zid + "@Example.com",
		Scopes:        []string{"user:read:token", "user:read:user"},
		Tokens:        sealed,
	}, plain
}

func save(tb testing.TB, s connections.Store, c connections.Connection) connections.Connection {
	tb.Helper()
	saved, _, err := s.Save(ctx, c)
	if err != nil {
		tb.Fatalf("Save: %v", err)
	}
	return saved
}

// drainEvents claims and settles the outbox's events in claim order until none is left, as if
// every retry were due.
func drainEvents(tb testing.TB, s outbox.Store) []outbox.Event {
	tb.Helper()
	var all []outbox.Event
	for {
		batch, err := s.ClaimEvents(ctx, time.Now().Add(24*365*time.Hour), time.Minute, 100)
		if err != nil {
			tb.Fatal(err)
		}
		if len(batch) == 0 {
			return all
		}
		for _, e := range batch {
			if err := s.EventDelivered(ctx, e.ID); err != nil {
				tb.Fatal(err)
			}
		}
		all = append(all, batch...)
	}
}

func eventTypes(events []outbox.Event) []string {
	var types []string
	for _, e := range events {
		types = append(types, string(e.Type))
	}
	return types
}

func TestWrittenClosedReopenedReadBack(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		v := newVault(t, newKey(t))
		s := b.open(t, sqlstore.Options{})
		c, plain := newConnection(t, v, "u1")
		c.Ref = "customer-42"
		saved := save(t, s, c)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}

		got, err := b.open(t, sqlstore.Options{}).Get(ctx, saved.ID)
		if err != nil {
			t.Fatalf("Get after reopen: %v", err)
		}
		if got.ZoomUserID != "u1" || got.ZoomAccountID != "acct-u1" || got.Email != "u1@Example.com" ||
			got.Ref != "customer-42" || got.Status != connections.StatusActive || !slices.Equal(got.Scopes, c.Scopes) {
			t.Errorf("read back %+v, want the fields of %+v", got.Fields(), c.Fields())
		}
		if !got.CreatedAt.Equal(saved.CreatedAt) || got.RefreshedAt.IsZero() {
			t.Errorf("times: created %v (saved %v), refreshed %v", got.CreatedAt, saved.CreatedAt, got.RefreshedAt)
		}
		tokens, err := v.Open(got)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if tokens != plain {
			t.Errorf("tokens read back differ from those written")
		}
	})
}

func TestNoTokenInPlainText(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		v := newVault(t, newKey(t))
		s := b.open(t, sqlstore.Options{})
		var written []string
		for i := range 5 {
			c, plain := newConnection(t, v, fmt.Sprintf("user-%d", i))
			saved := save(t, s, c)
			written = append(written, plain.Access, plain.Refresh)
			// A refresh writes new tokens through the other write path.
			fresh := connections.Tokens{Access: randomToken("access2"), Refresh: randomToken("refresh2"), AccessExpiresAt: time.Now().Add(time.Hour)}
			sealed, _ := v.Seal(saved.ZoomUserID, fresh)
			if _, err := s.Update(ctx, saved.ID, func(context.Context, connections.Connection) (connections.Change, error) {
				return connections.Change{Tokens: &sealed, Refreshed: true}, nil
			}); err != nil {
				t.Fatal(err)
			}
			written = append(written, fresh.Access, fresh.Refresh)
		}
		dump := b.dump(t)
		if !strings.Contains(string(dump), "user-3") && !strings.Contains(string(dump), "757365722d33") {
			t.Fatalf("the dump does not even hold the Zoom user ids: it reads the wrong thing")
		}
		for _, token := range written {
			if containsSecret(dump, token) {
				t.Errorf("the database holds a token in plain text (%s…)", token[:8])
			}
		}
	})
}

func TestReconnectKeepsIDAndReplacesTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		v := newVault(t, newKey(t))
		s := b.open(t, sqlstore.Options{})
		first, _ := newConnection(t, v, "u1")
		first.Ref = "r1"
		saved, created, err := s.Save(ctx, first)
		if err != nil || !created || saved.ID != first.ID {
			t.Fatalf("first Save: id %q created %v err %v, want id %q created", saved.ID, created, err, first.ID)
		}
		if _, err := s.Update(ctx, saved.ID, func(context.Context, connections.Connection) (connections.Change, error) {
			return connections.Change{ReauthorizationRequired: "invalid_grant"}, nil
		}); err != nil {
			t.Fatal(err)
		}

		again, plain := newConnection(t, v, "u1") // a new proposed id, new tokens, no ref
		again.Email = "new@example.com"
		got, created, err := s.Save(ctx, again)
		if err != nil || created {
			t.Fatalf("reconnect: created %v err %v, want an update", created, err)
		}
		if got.ID != first.ID || !got.CreatedAt.Equal(saved.CreatedAt) {
			t.Errorf("reconnect changed the id or created_at: %s %v, want %s %v", got.ID, got.CreatedAt, first.ID, saved.CreatedAt)
		}
		if got.Status != connections.StatusActive || got.LastError != "" || got.Email != "new@example.com" || got.Ref != "r1" {
			t.Errorf("after reconnect: status %q last_error %q email %q ref %q", got.Status, got.LastError, got.Email, got.Ref)
		}
		if tokens, err := v.Open(got); err != nil || tokens != plain {
			t.Errorf("reconnect did not store the new tokens (err %v)", err)
		}

		again.Ref = "r2"
		if got := save(t, s, again); got.Ref != "r2" {
			t.Errorf("a reconnect with a ref kept %q, want r2", got.Ref)
		}
		all, _ := s.List(ctx, connections.Filter{})
		if len(all) != 1 {
			t.Errorf("%d connections after reconnects, want 1", len(all))
		}
		want := []string{"connection.created", "connection.reauthorization_required", "connection.reconnected", "connection.reconnected", "connection.updated"}
		if got := eventTypes(drainEvents(t, s)); !slices.Equal(got, want) {
			t.Errorf("events %v, want %v", got, want)
		}
	})
}

// Several of the operator's people can share one Zoom account: every ref it was connected
// under keeps resolving to it, until one is removed.
func TestEveryRefResolves(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		v := newVault(t, newKey(t))
		s := b.open(t, sqlstore.Options{})
		c, _ := newConnection(t, v, "u1")
		c.Ref = "customer-42"
		first := save(t, s, c)
		c.Ref = "mobile-user"
		save(t, s, c)
		c.Ref = "customer-42" // connecting again under a ref it has changes nothing but the latest
		save(t, s, c)
		c.Ref = "mobile-user"
		got := save(t, s, c)
		if got.ID != first.ID || got.Ref != "mobile-user" || !slices.Equal(got.Refs, []string{"customer-42", "mobile-user"}) {
			t.Fatalf("ref %q refs %v", got.Ref, got.Refs)
		}
		for _, ref := range []string{"customer-42", "mobile-user"} {
			if found, err := s.FindByRef(ctx, ref); err != nil || found.ID != first.ID {
				t.Errorf("FindByRef(%s): %v %v", ref, found.ID, err)
			}
			if list, err := s.List(ctx, connections.Filter{Ref: ref}); err != nil || len(list) != 1 {
				t.Errorf("List(ref=%s): %d %v", ref, len(list), err)
			}
		}
		drainEvents(t, s)

		left, err := s.RemoveRef(ctx, first.ID, "mobile-user")
		if err != nil || left.Ref != "customer-42" || !slices.Equal(left.Refs, []string{"customer-42"}) {
			t.Fatalf("after removing the latest: %q %v %v", left.Ref, left.Refs, err)
		}
		if _, err := s.FindByRef(ctx, "mobile-user"); !errors.Is(err, connections.ErrNotFound) {
			t.Errorf("a removed ref still resolves: %v", err)
		}
		if _, err := s.RemoveRef(ctx, first.ID, "mobile-user"); !errors.Is(err, connections.ErrNotFound) {
			t.Errorf("removing it twice: %v", err)
		}
		if _, err := s.RemoveRef(ctx, "conn_nope", "customer-42"); !errors.Is(err, connections.ErrNotFound) {
			t.Errorf("an unknown connection: %v", err)
		}
		if last, err := s.RemoveRef(ctx, first.ID, "customer-42"); err != nil || last.Ref != "" || last.Refs != nil {
			t.Errorf("after removing the last: %q %v %v", last.Ref, last.Refs, err)
		}
		if got := eventTypes(drainEvents(t, s)); !slices.Equal(got, []string{"connection.updated", "connection.updated"}) {
			t.Errorf("events %v", got)
		}
		c.Ref = "again"
		save(t, s, c)
		if _, err := s.Delete(ctx, first.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.FindByRef(ctx, "again"); !errors.Is(err, connections.ErrNotFound) {
			t.Errorf("a deleted connection's ref resolves: %v", err)
		}
	})
}

func TestLookups(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		v := newVault(t, newKey(t))
		clk := fakeclock.New(time.Now())
		s := b.open(t, sqlstore.Options{Now: clk.Now})
		a, _ := newConnection(t, v, "AbC")
		a.Ref, a.Email = "shared", "Person@Example.com"
		a = save(t, s, a)
		clk.Add(time.Millisecond) // updated_at is in milliseconds
		bb, _ := newConnection(t, v, "xyz")
		bb.Ref, bb.Email = "shared", "person@example.COM"
		bb = save(t, s, bb)

		if got, err := s.Get(ctx, a.ID); err != nil || got.ZoomUserID != "AbC" {
			t.Errorf("Get: %v %v", got.ZoomUserID, err)
		}
		if got, err := s.FindByZoomUserID(ctx, "AbC"); err != nil || got.ID != a.ID {
			t.Errorf("FindByZoomUserID: %v %v", got.ID, err)
		}
		if _, err := s.FindByZoomUserID(ctx, "abc"); !errors.Is(err, connections.ErrNotFound) {
			t.Errorf("Zoom user ids match exactly, but abc found AbC (err %v)", err)
		}
		// Two connections share the email and the ref: the active one updated last wins.
		if got, err := s.FindByEmail(ctx, "PERSON@example.com"); err != nil || got.ID != bb.ID {
			t.Errorf("FindByEmail: %v %v, want %v", got.ID, err, bb.ID)
		}
		// A ref resolves to the connection attached to it last: a refresh or a death of either
		// never moves it to the other person's account.
		if got, err := s.FindByRef(ctx, "shared"); err != nil || got.ID != bb.ID {
			t.Errorf("FindByRef: %v %v, want the later %v", got.ID, err, bb.ID)
		}
		if _, err := s.Update(ctx, a.ID, func(_ context.Context, cur connections.Connection) (connections.Change, error) {
			return connections.Change{Tokens: &cur.Tokens, Refreshed: true}, nil
		}); err != nil {
			t.Fatal(err)
		}
		if got, err := s.FindByRef(ctx, "shared"); err != nil || got.ID != bb.ID {
			t.Errorf("FindByRef after the earlier one was refreshed: %v %v, want still %v", got.ID, err, bb.ID)
		}
		if _, err := s.Update(ctx, bb.ID, func(context.Context, connections.Connection) (connections.Change, error) {
			return connections.Change{ReauthorizationRequired: "invalid_grant"}, nil
		}); err != nil {
			t.Fatal(err)
		}
		if got, err := s.FindByRef(ctx, "shared"); err != nil || got.ID != bb.ID || got.Status != connections.StatusReauthorizationRequired {
			t.Errorf("FindByRef after the later one died: %v %v, want %v, which must connect again", got.ID, err, bb.ID)
		}
		// Connecting the earlier account under the ref again attaches it anew.
		again := a
		again.Ref = "shared"
		clk.Add(time.Millisecond) // added_at is in milliseconds
		save(t, s, again)
		if got, err := s.FindByRef(ctx, "shared"); err != nil || got.ID != a.ID {
			t.Errorf("FindByRef after a reconnect under the ref: %v %v, want %v", got.ID, err, a.ID)
		}
		if got, err := s.FindByEmail(ctx, "person@example.com"); err != nil || got.ID != a.ID {
			t.Errorf("FindByEmail after the later one died: %v %v, want the active %v", got.ID, err, a.ID)
		}
		for name, find := range map[string]func() error{
			"Get":              func() error { _, err := s.Get(ctx, "conn_nope"); return err },
			"FindByZoomUserID": func() error { _, err := s.FindByZoomUserID(ctx, "nope"); return err },
			"FindByEmail":      func() error { _, err := s.FindByEmail(ctx, "nope@example.com"); return err },
			"FindByRef":        func() error { _, err := s.FindByRef(ctx, "nope"); return err },
		} {
			if err := find(); !errors.Is(err, connections.ErrNotFound) {
				t.Errorf("%s of an unknown connection: %v, want ErrNotFound", name, err)
			}
		}
	})
}

func TestListFilters(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		v := newVault(t, newKey(t))
		s := b.open(t, sqlstore.Options{})
		var ids []string
		for i, ref := range []string{"a", "b", "a", ""} {
			c, _ := newConnection(t, v, fmt.Sprintf("u%d", i))
			c.Ref = ref
			ids = append(ids, save(t, s, c).ID)
			time.Sleep(2 * time.Millisecond)
		}
		s.Update(ctx, ids[2], func(context.Context, connections.Connection) (connections.Change, error) {
			return connections.Change{ReauthorizationRequired: "gone"}, nil
		})
		for _, tc := range []struct {
			filter connections.Filter
			want   []string
		}{
			{connections.Filter{}, ids},
			{connections.Filter{Ref: "a"}, []string{ids[2], ids[0]}}, // newest attachment first
			{connections.Filter{Status: connections.StatusActive}, []string{ids[0], ids[1], ids[3]}},
			{connections.Filter{Ref: "a", Status: connections.StatusReauthorizationRequired}, []string{ids[2]}},
			{connections.Filter{Ref: "none"}, nil},
			{connections.Filter{Limit: 2}, ids[:2]}, // the oldest
			{connections.Filter{Status: connections.StatusActive, Limit: 2}, []string{ids[0], ids[1]}},
		} {
			list, err := s.List(ctx, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range list {
				got = append(got, c.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("List(%+v) = %v, want %v", tc.filter, got, tc.want)
			}
		}
	})
}

func TestDeleteTakesEverythingWithIt(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		v := newVault(t, newKey(t))
		s := b.open(t, sqlstore.Options{})
		c, _ := newConnection(t, v, "u1")
		c = save(t, s, c)
		other, _ := newConnection(t, v, "u2")
		other = save(t, s, other)
		if err := s.PutMeetings(ctx, c.ID, 111, 222); err != nil {
			t.Fatal(err)
		}
		if err := s.PutMeetings(ctx, other.ID, 333); err != nil {
			t.Fatal(err)
		}
		drainEvents(t, s)

		deleted, err := s.Delete(ctx, c.ID)
		if err != nil || deleted.ID != c.ID || deleted.Email != c.Email {
			t.Fatalf("Delete: %+v %v", deleted.Fields(), err)
		}
		if _, err := s.Get(ctx, c.ID); !errors.Is(err, connections.ErrNotFound) {
			t.Errorf("Get after Delete: %v, want ErrNotFound", err)
		}
		for _, m := range []int64{111, 222} {
			if _, err := s.MeetingHost(ctx, m); !errors.Is(err, connections.ErrNotFound) {
				t.Errorf("meeting %d still mapped after its host was deleted (%v)", m, err)
			}
		}
		if host, err := s.MeetingHost(ctx, 333); err != nil || host.ID != other.ID {
			t.Errorf("another connection's meeting went too: %v %v", host.ID, err)
		}
		events := drainEvents(t, s)
		if len(events) != 1 || events[0].Type != string(connections.EventDeleted) || events[0].Subject != c.ID {
			t.Fatalf("events after Delete: %v", eventTypes(events))
		}
		var body struct {
			Type string             `json:"type"`
			Data connections.Fields `json:"data"`
		}
		if err := json.Unmarshal(events[0].Payload, &body); err != nil || body.Type != "connection.deleted" || body.Data.ID != c.ID {
			t.Errorf("deleted event payload %s (%v)", events[0].Payload, err)
		}
		if _, err := s.Delete(ctx, c.ID); !errors.Is(err, connections.ErrNotFound) {
			t.Errorf("second Delete: %v, want ErrNotFound", err)
		}
	})
}

func TestMeetings(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		v := newVault(t, newKey(t))
		s := b.open(t, sqlstore.Options{})
		a, _ := newConnection(t, v, "a")
		a = save(t, s, a)
		bb, _ := newConnection(t, v, "b")
		bb = save(t, s, bb)
		const big = int64(1) << 62 // beyond what a float64 holds exactly

		if err := s.PutMeetings(ctx, a.ID, 1, 2, big); err != nil {
			t.Fatal(err)
		}
		if err := s.PutMeetings(ctx, bb.ID, 2); err != nil { // b takes meeting 2 over
			t.Fatal(err)
		}
		assertMeetings(t, s, a.ID, 1, big)
		assertMeetings(t, s, bb.ID, 2)
		if host, err := s.MeetingHost(ctx, big); err != nil || host.ID != a.ID {
			t.Errorf("MeetingHost(%d) = %v %v, want %v", big, host.ID, err, a.ID)
		}

		if err := s.ReplaceMeetings(ctx, a.ID, []int64{3, 4}); err != nil {
			t.Fatal(err)
		}
		assertMeetings(t, s, a.ID, 3, 4)
		assertMeetings(t, s, bb.ID, 2)
		if _, err := s.MeetingHost(ctx, 1); !errors.Is(err, connections.ErrNotFound) {
			t.Errorf("meeting 1 still mapped after a replace without it (%v)", err)
		}

		if err := s.DeleteMeeting(ctx, 3); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteMeeting(ctx, 999); err != nil {
			t.Errorf("deleting an unknown meeting: %v", err)
		}
		assertMeetings(t, s, a.ID, 4)
		if err := s.ReplaceMeetings(ctx, a.ID, nil); err != nil {
			t.Fatal(err)
		}
		assertMeetings(t, s, a.ID)
		if err := s.PutMeetings(ctx, "conn_unknown", 5); err == nil {
			t.Errorf("a meeting was mapped to a connection that does not exist")
		}
	})
}

func assertMeetings(tb testing.TB, s connections.Store, id string, want ...int64) {
	tb.Helper()
	got, err := s.Meetings(ctx, id)
	if err != nil {
		tb.Fatal(err)
	}
	if !slices.Equal(got, want) {
		tb.Errorf("meetings of %s = %v, want %v", id, got, want)
	}
}

func TestOutboxOrderLeaseAndRetry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		v := newVault(t, newKey(t))
		s1 := b.open(t, sqlstore.Options{})
		s2 := b.open(t, sqlstore.Options{})
		a, _ := newConnection(t, v, "a")
		a = save(t, s1, a)                              // a: created
		save(t, s1, a)                                  // a: reconnected
		bb, _ := newConnection(t, v, "b")               //
		bb = save(t, s1, bb)                            // b: created
		if _, err := s1.Delete(ctx, a.ID); err != nil { // a: deleted
			t.Fatal(err)
		}

		if n, err := s1.PendingEvents(ctx); err != nil || n != 4 {
			t.Errorf("pending: %d %v, want 4", n, err)
		}
		now := time.Now()
		first, err := s1.ClaimEvents(ctx, now, time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		// One per connection, each its oldest.
		if got := eventTypes(first); !slices.Equal(got, []string{"connection.created", "connection.created"}) {
			t.Fatalf("first claim %v, want the first event of each connection", got)
		}
		if first[0].Subject != a.ID || first[0].Attempts != 1 {
			t.Errorf("first claimed event: connection %s attempts %d", first[0].Subject, first[0].Attempts)
		}
		// Leased: another process sees nothing, and a's next event waits for the first.
		if again, _ := s2.ClaimEvents(ctx, now, time.Minute, 10); len(again) != 0 {
			t.Errorf("a leased event was claimed again: %v", eventTypes(again))
		}
		// a's first fails: it comes back, with the same id and payload, only when due.
		retryAt := now.Add(10 * time.Second)
		if err := s1.EventFailed(ctx, first[0].ID, retryAt, "503 from receiver"); err != nil {
			t.Fatal(err)
		}
		if err := s1.EventDelivered(ctx, first[1].ID); err != nil {
			t.Fatal(err)
		}
		early, _ := s2.ClaimEvents(ctx, now.Add(5*time.Second), time.Minute, 10)
		if len(early) != 0 {
			t.Errorf("claimed before its retry time: %v", eventTypes(early))
		}
		retried, _ := s2.ClaimEvents(ctx, retryAt, time.Minute, 10)
		if len(retried) != 1 || retried[0].ID != first[0].ID || string(retried[0].Payload) != string(first[0].Payload) || retried[0].Attempts != 2 {
			t.Fatalf("retry: %+v, want event %s again with attempt 2", retried, first[0].ID)
		}
		s2.EventDelivered(ctx, retried[0].ID)
		rest := drainEvents(t, s2)
		if got := eventTypes(rest); !slices.Equal(got, []string{"connection.reconnected", "connection.deleted"}) {
			t.Errorf("then %v, want a's other events in order", got)
		}
		if n, err := s1.PendingEvents(ctx); err != nil || n != 0 {
			t.Errorf("pending after draining: %d %v", n, err)
		}
	})
}

func TestFailedEventsAreKeptListedAndReplayed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		v := newVault(t, newKey(t))
		s := b.open(t, sqlstore.Options{})
		other := b.open(t, sqlstore.Options{}) // another replica
		a, _ := newConnection(t, v, "a")
		a = save(t, s, a) // a: created
		save(t, s, a)     // a: reconnected
		now := time.Now()

		first, err := s.ClaimEvents(ctx, now, time.Minute, 10)
		if err != nil || len(first) != 1 || first[0].Type != "connection.created" {
			t.Fatalf("claim: %v %v", eventTypes(first), err)
		}
		if err := s.EventExhausted(ctx, first[0].ID, now, "EVENTS_URL answered 500"); err != nil {
			t.Fatal(err)
		}
		// Kept, not pending, and no longer holding back a's next event.
		if n, _ := s.PendingEvents(ctx); n != 1 {
			t.Errorf("pending %d, want 1 (the failed one is not pending)", n)
		}
		failed, err := other.Events(ctx, outbox.Filter{State: outbox.StateFailed})
		if err != nil || len(failed) != 1 {
			t.Fatalf("failed events: %+v %v", failed, err)
		}
		f := failed[0]
		if f.ID != first[0].ID || f.State != outbox.StateFailed || f.Subject != a.ID || f.Type != "connection.created" ||
			f.Attempts != 1 || f.LastError != "EVENTS_URL answered 500" || f.FailedAt.UnixMilli() != now.UnixMilli() {
			t.Errorf("failed event listed as %+v", f)
		}
		next, _ := other.ClaimEvents(ctx, now, time.Minute, 10)
		if got := eventTypes(next); !slices.Equal(got, []string{"connection.reconnected"}) {
			t.Fatalf("after the first failed, claimed %v, want a's next event", got)
		}
		if pending, _ := s.Events(ctx, outbox.Filter{State: outbox.StatePending}); len(pending) != 1 || pending[0].ID != next[0].ID {
			t.Errorf("pending listing: %+v", pending)
		}
		if byType, _ := s.Events(ctx, outbox.Filter{Type: "connection.reconnected"}); len(byType) != 1 || byType[0].ID != next[0].ID {
			t.Errorf("listing by type: %+v", byType)
		}
		if all, _ := s.Events(ctx, outbox.Filter{}); len(all) != 2 || all[0].ID != first[0].ID {
			t.Errorf("full listing (oldest first): %+v", all)
		}
		s.EventDelivered(ctx, next[0].ID)

		// A paused delivery hands out nothing, on any replica, until the failed are replayed.
		b2, _ := newConnection(t, v, "b")
		save(t, s, b2)
		if err := s.PauseDelivery(ctx, now, "EVENTS_URL answered 410"); err != nil {
			t.Fatal(err)
		}
		if err := other.PauseDelivery(ctx, now.Add(time.Second), "again"); err != nil {
			t.Fatalf("a second pause: %v", err)
		}
		paused, since, reason, err := other.DeliveryPaused(ctx)
		if err != nil || !paused || since.UnixMilli() != now.UnixMilli() || reason != "EVENTS_URL answered 410" {
			t.Errorf("paused %v since %v (%q) %v, want the first pause", paused, since, reason, err)
		}
		if claimed, _ := other.ClaimEvents(ctx, now.Add(time.Hour), time.Minute, 10); len(claimed) != 0 {
			t.Errorf("claimed %v while paused", eventTypes(claimed))
		}
		if err := s.RetryEvent(ctx, "evt_unknown", now); !errors.Is(err, outbox.ErrNotFound) {
			t.Errorf("retrying an unknown event: %v", err)
		}
		n, err := other.RetryFailed(ctx, now)
		if err != nil || n != 1 {
			t.Fatalf("replayed %d %v, want 1", n, err)
		}
		if paused, _, _, _ := s.DeliveryPaused(ctx); paused {
			t.Error("still paused after RetryFailed")
		}
		// The replayed event is pending again, its retries starting over, and due now.
		replayed, _ := s.ClaimEvents(ctx, now.Add(time.Minute), time.Minute, 10) // b's was written after now
		var ids []string
		for _, e := range replayed {
			ids = append(ids, e.ID)
			if e.ID == first[0].ID && e.Attempts != 1 {
				t.Errorf("replayed event claimed with attempt %d, want 1", e.Attempts)
			}
		}
		if !slices.Contains(ids, first[0].ID) || len(replayed) != 2 {
			t.Errorf("after the replay claimed %v, want the replayed event and b's", eventTypes(replayed))
		}
		// RetryEvent makes one event due at once, failed or not.
		for _, e := range replayed {
			s.EventFailed(ctx, e.ID, now.Add(time.Hour), "503")
		}
		if err := s.RetryEvent(ctx, first[0].ID, now); err != nil {
			t.Fatal(err)
		}
		if again, _ := s.ClaimEvents(ctx, now, time.Minute, 10); len(again) != 1 || again[0].ID != first[0].ID {
			t.Errorf("after RetryEvent claimed %v", eventTypes(again))
		}
	})
}

func TestConcurrentClaimsNeverShareAnEvent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		v := newVault(t, newKey(t))
		stores := []stores{b.open(t, sqlstore.Options{}), b.open(t, sqlstore.Options{}), b.open(t, sqlstore.Options{})}
		for i := range 30 {
			c, _ := newConnection(t, v, fmt.Sprintf("u%d", i))
			save(t, stores[0], c)
		}
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for _, s := range stores {
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					events, err := s.ClaimEvents(ctx, time.Now(), time.Minute, 5)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					defer mu.Unlock()
					for _, e := range events {
						seen[e.ID]++
					}
				}()
			}
		}
		wg.Wait()
		for id, n := range seen {
			if n > 1 {
				t.Errorf("event %s claimed %d times at once", id, n)
			}
		}
		if len(seen) == 0 {
			t.Errorf("no event claimed at all")
		}
	})
}

func TestEventIsWrittenInTheChangesTransaction(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		v := newVault(t, newKey(t))
		s := b.open(t, sqlstore.Options{})
		kept, _ := newConnection(t, v, "kept")
		kept = save(t, s, kept)
		// With the outbox unwritable, every change that records an event must fail whole.
		if _, err := s.DB().ExecContext(ctx, `ALTER TABLE events RENAME TO events_gone`); err != nil {
			t.Fatal(err)
		}
		c, _ := newConnection(t, v, "new")
		if _, _, err := s.Save(ctx, c); err == nil {
			t.Fatal("Save succeeded without its event")
		}
		if _, err := s.FindByZoomUserID(ctx, "new"); !errors.Is(err, connections.ErrNotFound) {
			t.Errorf("the connection was stored though its event was not (%v)", err)
		}
		if _, err := s.Delete(ctx, kept.ID); err == nil {
			t.Fatal("Delete succeeded without its event")
		}
		if _, err := s.Get(ctx, kept.ID); err != nil {
			t.Errorf("the connection was deleted though its event was not recorded: %v", err)
		}
		if _, err := s.Update(ctx, kept.ID, func(context.Context, connections.Connection) (connections.Change, error) {
			return connections.Change{ReauthorizationRequired: "invalid_grant"}, nil
		}); err == nil {
			t.Fatal("marking for re-authorization succeeded without its event")
		}
		if got, _ := s.Get(ctx, kept.ID); got.Status != connections.StatusActive {
			t.Errorf("status %q though the event was not recorded", got.Status)
		}
	})
}

func TestUpdate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		v := newVault(t, newKey(t))
		clock := time.UnixMilli(1_800_000_000_000).UTC()
		s := b.open(t, sqlstore.Options{Now: func() time.Time { return clock }})
		c, plain := newConnection(t, v, "u1")
		c = save(t, s, c)

		// Writing nothing changes nothing.
		clock = clock.Add(time.Minute)
		got, err := s.Update(ctx, c.ID, func(_ context.Context, cur connections.Connection) (connections.Change, error) {
			return connections.Change{}, nil
		})
		if err != nil || !got.UpdatedAt.Equal(c.UpdatedAt) {
			t.Errorf("an empty change: updated_at %v (was %v), err %v", got.UpdatedAt, c.UpdatedAt, err)
		}
		// An error from fn writes nothing and comes back.
		boom := errors.New("zoom said no")
		if _, err := s.Update(ctx, c.ID, func(context.Context, connections.Connection) (connections.Change, error) {
			sealed, _ := v.Seal("u1", connections.Tokens{Access: "x", Refresh: "y"})
			return connections.Change{Tokens: &sealed}, boom
		}); !errors.Is(err, boom) {
			t.Errorf("Update returned %v, want fn's error", err)
		}
		if stored, _ := s.Get(ctx, c.ID); mustOpen(t, v, stored) != plain {
			t.Errorf("a failed UpdateFunc changed the tokens")
		}

		dead, err := s.Update(ctx, c.ID, func(context.Context, connections.Connection) (connections.Change, error) {
			return connections.Change{ReauthorizationRequired: "Zoom refused the refresh token (invalid_grant)"}, nil
		})
		if err != nil || dead.Status != connections.StatusReauthorizationRequired || dead.LastError == "" || !dead.UpdatedAt.Equal(clock) {
			t.Errorf("after re-authorization required: %+v %v", dead.Fields(), err)
		}

		clock = clock.Add(time.Minute)
		fresh := connections.Tokens{Access: "a2", Refresh: "r2", AccessExpiresAt: clock.Add(time.Hour)}
		sealed, _ := v.Seal("u1", fresh)
		alive, err := s.Update(ctx, c.ID, func(context.Context, connections.Connection) (connections.Change, error) {
			return connections.Change{Tokens: &sealed, Refreshed: true}, nil
		})
		if err != nil || alive.Status != connections.StatusActive || alive.LastError != "" || !alive.RefreshedAt.Equal(clock) {
			t.Errorf("after a refresh: %+v %v", alive.Fields(), err)
		}
		if mustOpen(t, v, alive) != fresh {
			t.Errorf("refreshed tokens not stored")
		}

		// The caller giving up while fn holds new tokens must not lose them.
		callerCtx, cancel := context.WithCancel(ctx)
		newer := connections.Tokens{Access: "a3", Refresh: "r3", AccessExpiresAt: clock.Add(time.Hour)}
		sealed3, _ := v.Seal("u1", newer)
		if _, err := s.Update(callerCtx, c.ID, func(fnCtx context.Context, _ connections.Connection) (connections.Change, error) {
			cancel()
			if fnCtx.Err() != nil {
				t.Errorf("fn's context ended with the caller's")
			}
			return connections.Change{Tokens: &sealed3, Refreshed: true}, nil
		}); err != nil {
			t.Errorf("Update after the caller gave up: %v", err)
		}
		if stored, _ := s.Get(ctx, c.ID); mustOpen(t, v, stored) != newer {
			t.Errorf("tokens obtained while the caller gave up were lost")
		}
		if _, err := s.Update(ctx, "conn_unknown", func(context.Context, connections.Connection) (connections.Change, error) {
			t.Error("fn called for an unknown connection")
			return connections.Change{}, nil
		}); !errors.Is(err, connections.ErrNotFound) {
			t.Errorf("Update of an unknown connection: %v", err)
		}
		want := []string{"connection.created", "connection.reauthorization_required"}
		if got := eventTypes(drainEvents(t, s)); !slices.Equal(got, want) {
			t.Errorf("events %v, want %v (a refresh is not an event)", got, want)
		}
	})
}

func mustOpen(tb testing.TB, v *connections.Vault, c connections.Connection) connections.Tokens {
	tb.Helper()
	tokens, err := v.Open(c)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return tokens
}

// TestOneRefreshPerRound races 20 goroutines in each of 3 store handles (three processes'
// worth) to refresh one connection. In each round exactly one refreshes; the others wait for it
// and see its tokens; at the end the stored tokens are the last winner's.
func TestOneRefreshPerRound(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		v := newVault(t, newKey(t))
		stores := []stores{b.open(t, sqlstore.Options{}), b.open(t, sqlstore.Options{}), b.open(t, sqlstore.Options{})}
		c, _ := newConnection(t, v, "racer")
		c = save(t, stores[0], c)

		var last connections.Tokens
		for round := 1; round <= 5; round++ {
			roundTag := fmt.Sprintf("round-%d-", round)
			var refreshes atomic.Int32
			var wg sync.WaitGroup
			results := make(chan string, 60)
			for i, s := range stores {
				for g := range 20 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						got, err := s.Update(ctx, c.ID, func(_ context.Context, cur connections.Connection) (connections.Change, error) {
							tokens, err := v.Open(cur)
							if err != nil {
								return connections.Change{}, err
							}
							if strings.HasPrefix(tokens.Access, roundTag) {
								return connections.Change{}, nil // refreshed by another: use it
							}
							refreshes.Add(1)
							time.Sleep(5 * time.Millisecond) // as if waiting on Zoom
							fresh := connections.Tokens{
								Access:          fmt.Sprintf("%sstore%d-g%d", roundTag, i, g),
								Refresh:         fmt.Sprintf("refresh-%sstore%d-g%d", roundTag, i, g),
								AccessExpiresAt: time.Now().Add(time.Hour),
							}
							sealed, err := v.Seal(cur.ZoomUserID, fresh)
							return connections.Change{Tokens: &sealed, Refreshed: true}, err
						})
						if err != nil {
							t.Errorf("Update: %v", err)
							return
						}
						results <- mustOpen(t, v, got).Access
					}()
				}
			}
			wg.Wait()
			close(results)
			if n := refreshes.Load(); n != 1 {
				t.Fatalf("round %d: %d refreshes, want exactly 1", round, n)
			}
			var seen []string
			for r := range results {
				seen = append(seen, r)
			}
			if len(seen) != 60 {
				t.Fatalf("round %d: %d results, want 60", round, len(seen))
			}
			for _, r := range seen {
				if r != seen[0] || !strings.HasPrefix(r, roundTag) {
					t.Fatalf("round %d: callers saw different tokens: %q and %q", round, r, seen[0])
				}
			}
			stored, err := stores[2].Get(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			last = mustOpen(t, v, stored)
			if last.Access != seen[0] || last.Refresh != "refresh-"+seen[0] {
				t.Fatalf("round %d: stored %q, but callers were given %q", round, last.Access, seen[0])
			}
		}
	})
}

func TestKeyRotation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		keyA, keyB := newKey(t), newKey(t)
		s := b.open(t, sqlstore.Options{})
		onlyA := newVault(t, keyA)
		var plains []connections.Tokens
		var ids []string
		for i := range 3 {
			c, plain := newConnection(t, onlyA, fmt.Sprintf("u%d", i))
			ids = append(ids, save(t, s, c).ID)
			plains = append(plains, plain)
		}

		// B first, A kept: everything still opens.
		bThenA := newVault(t, keyB, keyA)
		for i, id := range ids {
			c, _ := s.Get(ctx, id)
			if got := mustOpen(t, bThenA, c); got != plains[i] {
				t.Errorf("with B,A: %s opened to other tokens", id)
			}
		}
		onlyB := newVault(t, keyB)
		if c, _ := s.Get(ctx, ids[0]); !errorIs(onlyB, c, seal.ErrUnknownKey) {
			t.Errorf("a row sealed with A opened without A")
		}

		report, err := connections.Rekey(ctx, s, bThenA)
		if err != nil || report.Total != 3 || report.Resealed != 3 || len(report.Unopenable) != 0 {
			t.Fatalf("rekey: %+v %v, want 3 of 3 re-sealed", report, err)
		}
		if again, _ := connections.Rekey(ctx, s, bThenA); again.Resealed != 0 {
			t.Errorf("a second rekey re-sealed %d rows, want 0", again.Resealed)
		}
		for i, id := range ids {
			c, _ := s.Get(ctx, id)
			if got := mustOpen(t, onlyB, c); got != plains[i] {
				t.Errorf("with B alone after rekey: %s opened to other tokens", id)
			}
		}

		// A row sealed with a key that is gone is reported, never opened.
		keyC := newKey(t)
		stray, _ := newConnection(t, newVault(t, keyC), "stray")
		stray = save(t, s, stray)
		report, err = connections.Rekey(ctx, s, onlyB)
		if err != nil || len(report.Unopenable) != 1 || report.Unopenable[0].ID != stray.ID ||
			!errors.Is(report.Unopenable[0].Err, seal.ErrUnknownKey) {
			t.Errorf("rekey with a row of a lost key: %+v %v", report, err)
		}
		if strings.Contains(report.Unopenable[0].Err.Error(), "access.") {
			t.Errorf("the report holds a token: %v", report.Unopenable[0].Err)
		}

		// A ciphertext copied into another row does not open there.
		victim, _ := s.Get(ctx, ids[1])
		donor, _ := s.Get(ctx, ids[2])
		moved, err := s.Update(ctx, victim.ID, func(context.Context, connections.Connection) (connections.Change, error) {
			return connections.Change{Tokens: &donor.Tokens}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !errorIs(onlyB, moved, seal.ErrCorrupt) {
			t.Errorf("tokens copied from %s opened in %s", donor.ID, victim.ID)
		}
		// …nor in another column.
		swapped := donor
		swapped.Tokens.Access, swapped.Tokens.Refresh = donor.Tokens.Refresh, donor.Tokens.Access
		if !errorIs(onlyB, swapped, seal.ErrCorrupt) {
			t.Errorf("a refresh token opened as an access token")
		}
	})
}

func errorIs(v *connections.Vault, c connections.Connection, target error) bool {
	_, err := v.Open(c)
	return errors.Is(err, target)
}

func TestMigrations(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		db := b.openDB(t)
		from, err := sqlstore.Migrate(ctx, db, b.dialect, 0)
		if err != nil || from != 0 {
			t.Fatalf("migrate from empty: from %d, %v", from, err)
		}
		if current, latest, err := sqlstore.SchemaVersion(ctx, db, b.dialect); err != nil || current != latest || latest < 3 {
			t.Fatalf("after migrating: version %d of %d (%v)", current, latest, err)
		}
		if from, err := sqlstore.Migrate(ctx, db, b.dialect, 0); err != nil || from == 0 {
			t.Errorf("migrating again: from %d, %v; want nothing to do", from, err)
		}
	})
}

func TestMigrationsFromEveryEarlierVersion(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			probe := be.new(t)
			_, latest, _ := sqlstore.SchemaVersion(ctx, probe.openDB(t), probe.dialect)
			if latest < 3 {
				t.Fatalf("latest version %d", latest)
			}
			for start := 1; start < latest; start++ {
				t.Run(fmt.Sprintf("from %d", start), func(t *testing.T) {
					b := be.new(t)
					db := b.openDB(t)
					if _, err := sqlstore.Migrate(ctx, db, b.dialect, start); err != nil {
						t.Fatal(err)
					}
					if current, _, _ := sqlstore.SchemaVersion(ctx, db, b.dialect); current != start {
						t.Fatalf("stopped at %d, want %d", current, start)
					}
					// A connection written at version 1 survives the rest.
					if _, err := db.ExecContext(ctx, `INSERT INTO connections (id, zoom_user_id, zoom_account_id, email, ref, status, scopes,
						access_token, refresh_token, access_expires_at, created_at, updated_at, refreshed_at)
						VALUES ('conn_old', 'old', 'acct', 'old@example.com', NULL, 'active', 'user:read:token', $1, $1, 0, 1, 1, 1)`, []byte("sealed")); err != nil {
						t.Fatal(err)
					}
					if from, err := sqlstore.Migrate(ctx, db, b.dialect, 0); err != nil || from != start {
						t.Fatalf("migrate on from %d: from %d, %v", start, from, err)
					}
					s := newStores(sqlstore.New(db, b.dialect, sqlstore.Options{}))
					if _, err := s.Get(ctx, "conn_old"); err != nil {
						t.Errorf("a connection from version %d is gone: %v", start, err)
					}
					// And the whole schema works.
					v := newVault(t, newKey(t))
					c, _ := newConnection(t, v, "new")
					c = save(t, s, c)
					if err := s.PutMeetings(ctx, c.ID, 1); err != nil {
						t.Error(err)
					}
					if got := drainEvents(t, s); len(got) != 1 {
						t.Errorf("outbox: %v", eventTypes(got))
					}
				})
			}
		})
	}
}

func TestConcurrentMigrationsBothSucceed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		const processes = 4
		errs := make(chan error, processes)
		start := make(chan struct{})
		for range processes {
			db := b.openDB(t)
			go func() {
				<-start
				_, err := sqlstore.Migrate(ctx, db, b.dialect, 0)
				errs <- err
			}()
		}
		close(start)
		for range processes {
			if err := <-errs; err != nil {
				t.Errorf("a concurrent migration failed: %v", err)
			}
		}
		var applied int
		if err := b.openDB(t).QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&applied); err != nil {
			t.Fatal(err)
		}
		if _, latest, _ := sqlstore.SchemaVersion(ctx, b.openDB(t), b.dialect); applied != latest {
			t.Errorf("%d migrations recorded, want each of %d once", applied, latest)
		}
	})
}

func TestRefusesASchemaNewerThanItKnows(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		db := b.openDB(t)
		if _, err := sqlstore.Migrate(ctx, db, b.dialect, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)`); err != nil {
			t.Fatal(err)
		}
		if _, err := sqlstore.Migrate(ctx, db, b.dialect, 0); err == nil || !strings.Contains(err.Error(), "newer") {
			t.Errorf("migrating a database from a newer zoomtoken: %v, want a refusal", err)
		}
	})
}

func TestConsumeStateOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s1, s2 := b.open(t, sqlstore.Options{}), b.open(t, sqlstore.Options{})
		expires := time.Now().Add(10 * time.Minute)
		if first, err := s1.ConsumeState(ctx, "state-a", expires); err != nil || !first {
			t.Fatalf("first use: %v %v", first, err)
		}
		if first, err := s2.ConsumeState(ctx, "state-a", expires); err != nil || first {
			t.Errorf("second use, from another process: %v %v", first, err)
		}
		if first, _ := s2.ConsumeState(ctx, "state-b", expires); !first {
			t.Errorf("another state refused")
		}
		if containsSecret(b.dump(t), "state-a") {
			t.Errorf("the state is stored as it is, not hashed")
		}
	})
}

func TestMeetingListingClaimedOncePerPeriod(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		v := newVault(t, newKey(t))
		s1, s2 := b.open(t, sqlstore.Options{}), b.open(t, sqlstore.Options{})
		c, _ := newConnection(t, v, "u1")
		c = save(t, s1, c)
		now := time.Now()
		if due, _ := s1.MeetingListingsDue(ctx, now.Add(-24*time.Hour)); !slices.Equal(due, []string{c.ID}) {
			t.Fatalf("due before any listing: %v", due)
		}
		var won atomic.Int32
		var wg sync.WaitGroup
		for _, s := range []stores{s1, s2, s1, s2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if ok, err := s.ClaimMeetingListing(ctx, c.ID, now, now.Add(-24*time.Hour)); err == nil && ok {
					won.Add(1)
				}
			}()
		}
		wg.Wait()
		if won.Load() != 1 {
			t.Errorf("%d claims won, want 1", won.Load())
		}
		if due, _ := s2.MeetingListingsDue(ctx, now.Add(-24*time.Hour)); len(due) != 0 {
			t.Errorf("still due after the listing: %v", due)
		}
		later := now.Add(25 * time.Hour)
		if ok, _ := s2.ClaimMeetingListing(ctx, c.ID, later, later.Add(-24*time.Hour)); !ok {
			t.Errorf("not claimable a day later")
		}
	})
}

func TestCountByStatus(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		v := newVault(t, newKey(t))
		s := b.open(t, sqlstore.Options{})
		if got, err := s.CountByStatus(ctx); err != nil || got[connections.StatusActive] != 0 || got[connections.StatusReauthorizationRequired] != 0 {
			t.Fatalf("empty: %v %v", got, err)
		}
		var ids []string
		for _, zid := range []string{"u1", "u2", "u3"} {
			c, _ := newConnection(t, v, zid)
			ids = append(ids, save(t, s, c).ID)
		}
		s.Update(ctx, ids[1], func(context.Context, connections.Connection) (connections.Change, error) {
			return connections.Change{ReauthorizationRequired: "invalid_grant"}, nil
		})
		got, err := s.CountByStatus(ctx)
		if err != nil || got[connections.StatusActive] != 2 || got[connections.StatusReauthorizationRequired] != 1 {
			t.Errorf("got %v %v, want 2 active and 1 needing re-authorization", got, err)
		}
	})
}
