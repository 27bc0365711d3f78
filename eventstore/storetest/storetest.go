package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// Log is the contract: what the commands need of the event log.
type Log interface {
	AppendWith(ctx context.Context, a eventstore.Append) (eventstore.AppendResult, error)
	ReadStream(ctx context.Context, stream string, afterVersion int64, limit int) ([]eventstore.Event, error)
	ReadStreams(ctx context.Context, after map[string]int64) (map[string][]eventstore.Event, error)
	Idempotent(ctx context.Context, company string, idem *eventstore.Idempotency) (eventstore.AppendResult, bool, error)
}

// Implementation is one implementation under test.
type Implementation struct {
	// New returns an empty log for one test.
	New func(t *testing.T) Log
	// SQL says that appends run their Statements in a database transaction.
	SQL bool
}

// Run runs the contract suite against impl, each case in a subtest on a fresh log.
func Run(t *testing.T, impl Implementation) {
	cases := []struct {
		name string
		run  func(t *testing.T, l Log)
	}{
		{"AppendAndRead", appendAndRead},
		{"StaleExpectedVersionIsAConflictAndWritesNothing", staleExpectedVersion},
		{"IdempotencyKeys", idempotencyKeys},
		{"IdempotentLooksUpAKeyBeforeAnyAppend", idempotentLookUp},
		{"ConditionsOnOtherStreams", conditions},
		{"BadInputIsRefused", badInput},
		{"RacingCreatorsGetOneWinner", racingCreators},
		{"ReadStreams", readStreams},
	}
	if impl.SQL {
		cases = append(cases, struct {
			name string
			run  func(t *testing.T, l Log)
		}{"StatementsRunOnlyWithAnAcceptedAppend", statementsRun})
	} else {
		cases = append(cases, struct {
			name string
			run  func(t *testing.T, l Log)
		}{"StatementsAreRefusedWithoutSQL", statementsRefused})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, impl.New(t))
		})
	}
}

// Event returns an event of type typ in company with payload as its JSON.
func Event(typ, company string, payload any) eventstore.EventData {
	b, err := json.Marshal(payload)
	if err != nil {
		panic(err)
	}
	return eventstore.EventData{Type: typ, SchemaVersion: 1, CompanyID: company, Payload: b}
}

// WantCode fails the test unless err carries code.
func WantCode(t *testing.T, err error, code ledgererr.Code) {
	t.Helper()
	if got := ledgererr.CodeOf(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func appendTo(l Log, stream string, expected int64, evs ...eventstore.EventData) (eventstore.AppendResult, error) {
	return l.AppendWith(context.Background(), eventstore.Append{Stream: stream, Expected: expected, Events: evs})
}

// streamLen reads the whole stream and returns its number of events.
func streamLen(t *testing.T, l Log, stream string) int {
	t.Helper()
	evs, err := l.ReadStream(context.Background(), stream, 0, eventstore.MaxReadLimit)
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

func appendAndRead(t *testing.T, l Log) {
	ctx := context.Background()
	first := Event("secret.created", "co-1", map[string]any{"name": "OpenAI", "n": 1.50, "z": "<&>"})
	first.Metadata = eventstore.Metadata{ActorType: "board", ActorID: "op-1", RequestID: "req-1"}
	res, err := appendTo(l, "secret-a", eventstore.NoStream, first, Event("secret.version_added", "co-1", map[string]int{"version": 2}))
	if err != nil {
		t.Fatal(err)
	}
	if res.FirstPosition != 1 || res.LastPosition != 2 || res.StreamVersion != 2 || len(res.EventIDs) != 2 || res.Replayed || res.StreamID != "secret-a" {
		t.Fatalf("unexpected result %+v", res)
	}
	if res.EventIDs[0].Compare(res.EventIDs[1]) >= 0 {
		t.Fatalf("event ids not increasing: %v", res.EventIDs)
	}
	if _, err := appendTo(l, "secret-b", eventstore.NoStream, Event("secret.created", "co-2", map[string]string{})); err != nil {
		t.Fatal(err)
	}
	got, err := l.ReadStream(ctx, "secret-a", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].StreamVersion != 1 || got[1].StreamVersion != 2 || got[1].Type != "secret.version_added" {
		t.Fatalf("stream read = %+v", got)
	}
	if got[0].Metadata != first.Metadata || got[0].CompanyID != "co-1" || got[0].EventID != res.EventIDs[0] ||
		got[0].Position != 1 || got[0].SchemaVersion != 1 || got[0].RecordedAt.IsZero() {
		t.Fatalf("envelope not round-tripped: %+v", got[0])
	}
	var payload map[string]any
	if err := json.Unmarshal(got[0].Payload, &payload); err != nil || payload["name"] != "OpenAI" || payload["z"] != "<&>" {
		t.Fatalf("payload = %s (%v)", got[0].Payload, err)
	}
	if after, err := l.ReadStream(ctx, "secret-a", 1, 100); err != nil || len(after) != 1 || after[0].StreamVersion != 2 {
		t.Fatalf("read after version 1 = %+v, %v", after, err)
	}
	if limited, err := l.ReadStream(ctx, "secret-a", 0, 1); err != nil || len(limited) != 1 || limited[0].StreamVersion != 1 {
		t.Fatalf("read with limit 1 = %+v, %v", limited, err)
	}
	if empty, err := l.ReadStream(ctx, "no-such-stream", 0, 10); err != nil || len(empty) != 0 {
		t.Fatalf("missing stream read = %v, %v", empty, err)
	}
	for _, limit := range []int{0, -1, eventstore.MaxReadLimit + 1} {
		_, err := l.ReadStream(ctx, "secret-a", 0, limit)
		WantCode(t, err, ledgererr.Invalid)
	}
}

func staleExpectedVersion(t *testing.T, l Log) {
	if _, err := appendTo(l, "secret-a", eventstore.NoStream, Event("secret.created", "co", struct{}{})); err != nil {
		t.Fatal(err)
	}
	_, err := appendTo(l, "secret-a", eventstore.NoStream, Event("secret.created", "co", struct{}{}))
	WantCode(t, err, ledgererr.Conflict)
	_, err = appendTo(l, "secret-a", 5, Event("secret.updated", "co", struct{}{}))
	WantCode(t, err, ledgererr.Conflict)
	var stale *eventstore.StaleError
	if !errors.As(err, &stale) || stale.Stream != "secret-a" || stale.Version != 1 || stale.Expected != 5 {
		t.Fatalf("stale append: %v, cause %+v", err, stale)
	}
	if n := streamLen(t, l, "secret-a"); n != 1 {
		t.Fatalf("a refused append wrote something: %d events", n)
	}
	if _, err := appendTo(l, "secret-a", 1, Event("secret.updated", "co", struct{}{})); err != nil {
		t.Fatalf("append at the right version: %v", err)
	}
	if res, err := appendTo(l, "secret-a", eventstore.AnyVersion, Event("secret.updated", "co", struct{}{})); err != nil || res.StreamVersion != 3 {
		t.Fatalf("append at any version: %+v, %v", res, err)
	}
}

func idempotencyKeys(t *testing.T, l Log) {
	ctx := context.Background()
	keyed := func(stream string, payload any) eventstore.Append {
		return eventstore.Append{Stream: stream, Expected: eventstore.NoStream, Idempotency: &eventstore.Idempotency{Key: "key-1"},
			Events: []eventstore.EventData{Event("secret.created", "co", payload)}}
	}
	first, err := l.AppendWith(ctx, keyed("secret-a", map[string]string{"name": "a"}))
	if err != nil {
		t.Fatal(err)
	}
	again, err := l.AppendWith(ctx, keyed("secret-a", map[string]string{"name": "a"}))
	if err != nil {
		t.Fatalf("retry with the same key and request: %v", err)
	}
	if !again.Replayed || again.FirstPosition != first.FirstPosition || again.StreamVersion != first.StreamVersion || len(again.EventIDs) != 0 {
		t.Fatalf("retry result %+v, want the first result %+v", again, first)
	}
	_, err = l.AppendWith(ctx, keyed("secret-a", map[string]string{"name": "b"}))
	WantCode(t, err, ledgererr.Conflict)
	// The same key in another company is another key.
	other := keyed("secret-b", map[string]string{"name": "b"})
	other.Events[0].CompanyID = "co-2"
	if _, err := l.AppendWith(ctx, other); err != nil {
		t.Fatalf("same key, other company: %v", err)
	}
	// An explicit request hash decides sameness, not the events (which may carry fresh ids).
	idem := &eventstore.Idempotency{Key: "key-2", RequestHash: []byte("request-x")}
	r1, err := l.AppendWith(ctx, eventstore.Append{Stream: "secret-c", Expected: eventstore.NoStream, Idempotency: idem,
		Events: []eventstore.EventData{Event("secret.created", "co", map[string]string{"id": "1"})}})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := l.AppendWith(ctx, eventstore.Append{Stream: "secret-d", Expected: eventstore.NoStream, Idempotency: idem,
		Events: []eventstore.EventData{Event("secret.created", "co", map[string]string{"id": "2"})}})
	if err != nil || !r2.Replayed || r2.StreamID != "secret-c" || r2.LastPosition != r1.LastPosition {
		t.Fatalf("replay by request hash = %+v, %v", r2, err)
	}
	if n := streamLen(t, l, "secret-a") + streamLen(t, l, "secret-d"); n != 1 {
		t.Fatalf("replays and conflicts wrote events: %d in secret-a and secret-d, want 1", n)
	}
}

func idempotentLookUp(t *testing.T, l Log) {
	ctx := context.Background()
	idem := &eventstore.Idempotency{Key: "key-x", RequestHash: []byte("request-1")}
	if _, found, err := l.Idempotent(ctx, "co", idem); found || err != nil {
		t.Fatalf("unused key: found %v, %v", found, err)
	}
	if _, found, err := l.Idempotent(ctx, "co", nil); found || err != nil {
		t.Fatalf("no key: found %v, %v", found, err)
	}
	first, err := l.AppendWith(ctx, eventstore.Append{Stream: "secret-x", Expected: eventstore.NoStream, Idempotency: idem,
		Events: []eventstore.EventData{Event("secret.created", "co", map[string]string{"a": "b"})}})
	if err != nil {
		t.Fatal(err)
	}
	res, found, err := l.Idempotent(ctx, "co", idem)
	if !found || err != nil || !res.Replayed || res.LastPosition != first.LastPosition || res.StreamID != "secret-x" {
		t.Fatalf("same request: %+v %v %v", res, found, err)
	}
	_, found, err = l.Idempotent(ctx, "co", &eventstore.Idempotency{Key: "key-x", RequestHash: []byte("request-2")})
	WantCode(t, err, ledgererr.Conflict)
	if !found {
		t.Fatal("another request with the key is found as a conflict")
	}
	if _, found, _ := l.Idempotent(ctx, "co-2", idem); found {
		t.Fatal("keys are per company")
	}
}

// An append condition on other streams: met, it writes; broken by a write that landed
// after the decision, it is a conflict naming the stream, and writes nothing.
func conditions(t *testing.T, l Log) {
	ctx := context.Background()
	cond := func(gate int64) []eventstore.StreamVersion {
		return []eventstore.StreamVersion{{Stream: "gate", Version: gate}, {Stream: "never-written", Version: eventstore.NoStream}}
	}
	logged := func(n int, c []eventstore.StreamVersion) error {
		_, err := l.AppendWith(ctx, eventstore.Append{Stream: "log", Expected: eventstore.AnyVersion, Condition: c,
			Events: []eventstore.EventData{Event("x.logged", "co", n)}})
		return err
	}
	if err := logged(1, cond(eventstore.NoStream)); err != nil {
		t.Fatalf("condition met on empty streams: %v", err)
	}
	if _, err := appendTo(l, "gate", eventstore.NoStream, Event("x.closed", "co", struct{}{})); err != nil {
		t.Fatal(err)
	}
	err := logged(2, cond(eventstore.NoStream))
	WantCode(t, err, ledgererr.Conflict)
	var stale *eventstore.StaleError
	if !errors.As(err, &stale) || stale.Stream != "gate" || stale.Version != 1 || stale.Expected != eventstore.NoStream {
		t.Fatalf("broken condition: %v, cause %+v", err, stale)
	}
	if n := streamLen(t, l, "log"); n != 1 {
		t.Fatalf("a refused append wrote something: %d events in log", n)
	}
	if err := logged(3, cond(1)); err != nil {
		t.Fatalf("condition met: %v", err)
	}
	WantCode(t, logged(4, []eventstore.StreamVersion{{Stream: ""}}), ledgererr.Invalid)
}

func badInput(t *testing.T, l Log) {
	bad := []struct {
		name   string
		stream string
		events []eventstore.EventData
	}{
		{"no stream", "", []eventstore.EventData{Event("x.y", "co", 1)}},
		{"no events", "s", nil},
		{"no type", "s", []eventstore.EventData{{SchemaVersion: 1, Payload: []byte(`{}`)}}},
		{"no schema version", "s", []eventstore.EventData{{Type: "x.y", Payload: []byte(`{}`)}}},
		{"invalid json", "s", []eventstore.EventData{{Type: "x.y", SchemaVersion: 1, Payload: []byte(`{`)}}},
		{"nul in json", "s", []eventstore.EventData{{Type: "x.y", SchemaVersion: 1, Payload: []byte(`{"a":"\u0000"}`)}}},
		{"two companies", "s", []eventstore.EventData{Event("x.y", "a", 1), Event("x.y", "b", 1)}},
	}
	for _, tc := range bad {
		if _, err := appendTo(l, tc.stream, eventstore.AnyVersion, tc.events...); ledgererr.CodeOf(err) != ledgererr.Invalid {
			t.Errorf("%s: error %v, want EINVALID", tc.name, err)
		}
	}
	_, err := l.AppendWith(context.Background(), eventstore.Append{Stream: "s", Expected: eventstore.AnyVersion,
		Idempotency: &eventstore.Idempotency{}, Events: []eventstore.EventData{Event("x.y", "co", 1)}})
	if ledgererr.CodeOf(err) != ledgererr.Invalid {
		t.Errorf("empty idempotency key: error %v, want EINVALID", err)
	}
	if n := streamLen(t, l, "s"); n != 0 {
		t.Fatalf("bad input wrote %d events", n)
	}
}

// Many callers race to create the same stream: exactly one wins, every other gets its
// own conflict.
func racingCreators(t *testing.T, l Log) {
	const callers = 32
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := appendTo(l, "contended", eventstore.NoStream, Event("x.created", "co", i))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	won, lost := 0, 0
	for err := range errs {
		switch ledgererr.CodeOf(err) {
		case "":
			won++
		case ledgererr.Conflict:
			lost++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if won != 1 || lost != callers-1 || streamLen(t, l, "contended") != 1 {
		t.Fatalf("won %d, lost %d; want 1 and %d", won, lost, callers-1)
	}
}

func readStreams(t *testing.T, l Log) {
	versions := map[string]int64{}
	for i, s := range []string{"a", "b", "a", "c", "a"} {
		if _, err := appendTo(l, s, versions[s], Event("x.y", "co", i)); err != nil {
			t.Fatal(err)
		}
		versions[s]++
	}
	got, err := l.ReadStreams(context.Background(), map[string]int64{"a": 1, "b": 0, "c": 1, "none": 0})
	if err != nil {
		t.Fatal(err)
	}
	if a := got["a"]; len(a) != 2 || a[0].StreamVersion != 2 || a[1].StreamVersion != 3 || a[0].StreamID != "a" {
		t.Fatalf("stream a after 1 = %+v", a)
	}
	if b := got["b"]; len(b) != 1 || b[0].Position != 2 {
		t.Fatalf("stream b = %+v", b)
	}
	if len(got["c"]) != 0 || len(got["none"]) != 0 {
		t.Fatalf("read beyond the end or of a missing stream: %+v", got)
	}
}

// statementsRun: a statement runs in the append's transaction and sees its events; it
// does not run for a refused append nor for a replay.
func statementsRun(t *testing.T, l Log) {
	ctx := context.Background()
	ran := 0
	var count int64
	counting := eventstore.Statement{SQL: `SELECT count(*) FROM ledger_log WHERE stream_id = 'a'`,
		Row: func(r pgx.Row) error { ran++; return r.Scan(&count) }}
	idem := &eventstore.Idempotency{Key: "k1"}
	with := func(expected int64) error {
		_, err := l.AppendWith(ctx, eventstore.Append{Stream: "a", Expected: expected, Idempotency: idem,
			Events: []eventstore.EventData{Event("x.done", "co", 1)}, Statements: []eventstore.Statement{counting}})
		return err
	}
	if err := with(eventstore.NoStream); err != nil {
		t.Fatal(err)
	}
	if ran != 1 || count != 1 {
		t.Fatalf("the statement ran %d times and saw %d events, want once and 1 (its own append's)", ran, count)
	}
	if err := with(eventstore.NoStream); err != nil {
		t.Fatalf("replay: %v", err)
	}
	idem = &eventstore.Idempotency{Key: "k2"}
	WantCode(t, with(eventstore.NoStream), ledgererr.Conflict)
	if ran != 1 {
		t.Fatalf("the statement ran %d times after a replay and a refusal, want once", ran)
	}
}

// statementsRefused: a log without SQL refuses an append with statements and writes
// nothing, rather than dropping them.
func statementsRefused(t *testing.T, l Log) {
	_, err := l.AppendWith(context.Background(), eventstore.Append{Stream: "a", Expected: eventstore.NoStream,
		Events:     []eventstore.EventData{Event("x.done", "co", 1)},
		Statements: []eventstore.Statement{{SQL: `SELECT 1`}}})
	if err == nil {
		t.Fatal("an append with statements was accepted by a log that cannot run them")
	}
	if n := streamLen(t, l, "a"); n != 0 {
		t.Fatalf("a refused append wrote %d events", n)
	}
}
