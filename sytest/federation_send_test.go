package sytest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warbler-im/warbler/sytest/harness"
)

// TestInboundTransactions: B answers PUT /send/{txnId} signed by A as the
// spec says: a per-PDU result (here: B is not in the PDU's room), the
// same answer to a repeat, even after a restart, 400 for more than 50
// PDUs or an origin that is not the signer, its own body limit (a full
// transaction passes what bounds other requests, 8 MiB does not), and
// 401 for a tampered request.
func TestInboundTransactions(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		a, b := startFederating(t, backend), startFederating(t, backend)
		fed := harness.FederationHTTPClient(t)
		keyID, priv := readSigningKey(t, a)
		send := func(txnID string, body []byte) harness.Response {
			t.Helper()
			path := "/_matrix/federation/v1/send/" + txnID
			return sendFed(t, fed, b, "PUT", path, body, xMatrix(t, "PUT", path, a.Name, b.Name, body, keyID, priv))
		}
		pdu := func(n int, pad string) string {
			return fmt.Sprintf(`{"room_id":"!unknown:%s","event_id":"$e%d:%s","type":"m.room.message","pad":%q}`, a.Name, n, a.Name, pad)
		}
		txn := func(origin string, pdus ...string) []byte {
			return fmt.Appendf(nil, `{"origin":%q,"origin_server_ts":%d,"pdus":[%s]}`, origin, time.Now().UnixMilli(), strings.Join(pdus, ","))
		}

		first := send("t1", txn(a.Name, pdu(1, "")))
		body := want(t, first, http.StatusOK, "")
		result, _ := body["pdus"].(map[string]any)["$e1:"+a.Name].(map[string]any)
		if msg, _ := result["error"].(string); !strings.Contains(msg, "not in room") {
			t.Errorf("result for a PDU of an unknown room: %s", first.Body)
		}
		if again := send("t1", txn(a.Name)); again.Status != http.StatusOK || string(again.Body) != string(first.Body) {
			t.Errorf("repeat answered %d %s, want %s", again.Status, again.Body, first.Body)
		}

		many := make([]string, 51)
		for i := range many {
			many[i] = pdu(i, "")
		}
		want(t, send("t2", txn(a.Name, many...)), http.StatusBadRequest, "M_BAD_JSON")
		want(t, send("t3", txn("someone.else", pdu(1, ""))), http.StatusBadRequest, "M_BAD_JSON")

		// 50 PDUs of 40 kB: over http.max_request_bytes (1 MiB).
		big := make([]string, 50)
		for i := range big {
			big[i] = pdu(i, strings.Repeat("x", 40_000))
		}
		want(t, send("t4", txn(a.Name, big...)), http.StatusOK, "")
		huge := txn(a.Name, pdu(1, strings.Repeat("x", 9<<20)))
		want(t, sendFed(t, fed, b, "PUT", "/_matrix/federation/v1/send/t5", huge, "X-Matrix origin=\"x\""), http.StatusRequestEntityTooLarge, "M_TOO_LARGE")

		path := "/_matrix/federation/v1/send/t6"
		auth := xMatrix(t, "PUT", path, a.Name, b.Name, txn(a.Name), keyID, priv)
		want(t, sendFed(t, fed, b, "PUT", path, txn(a.Name, pdu(2, "")), auth), http.StatusUnauthorized, "M_UNAUTHORIZED")

		b.Restart()
		if again := send("t1", txn(a.Name)); again.Status != http.StatusOK || string(again.Body) != string(first.Body) {
			t.Errorf("repeat after a restart answered %d %s, want %s", again.Status, again.Body, first.Body)
		}
	})
}
