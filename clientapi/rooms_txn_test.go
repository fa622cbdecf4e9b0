package clientapi

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

func newTestTxnStore() *txnStore {
	return &txnStore{entries: map[txnKey]*txnEntry{}, byEvent: map[string]txnKey{}}
}

func TestTxnStoreSendsOncePerKey(t *testing.T) {
	s := newTestTxnStore()
	key := txnKey{user: "@a:x", device: "D", endpoint: txnSend, txnID: "t1"}
	var sends atomic.Int32
	var wg sync.WaitGroup
	ids := make([]string, 20)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i], _ = s.do(context.Background(), key, func() (string, error) {
				return "$e" + strconv.Itoa(int(sends.Add(1))), nil
			})
		}()
	}
	wg.Wait()
	if sends.Load() != 1 {
		t.Fatalf("sent %d times for one txnId", sends.Load())
	}
	for _, id := range ids {
		if id != "$e1" {
			t.Fatalf("repeat answered %q, want $e1", id)
		}
	}
}

func TestTxnStoreForgetsFailures(t *testing.T) {
	s := newTestTxnStore()
	key := txnKey{user: "@a:x", device: "D", endpoint: txnSend, txnID: "t1"}
	if _, err := s.do(context.Background(), key, func() (string, error) { return "", errors.New("boom") }); err == nil {
		t.Fatal("error lost")
	}
	id, err := s.do(context.Background(), key, func() (string, error) { return "$ok", nil })
	if err != nil || id != "$ok" {
		t.Fatalf("retry after failure: %q %v", id, err)
	}
}

func TestTxnStoreIsBoundedAndScoped(t *testing.T) {
	a := &API{}
	s := a.txns()
	for i := range maxTxns + 5 {
		key := txnKey{user: "@a:x", device: "D", endpoint: txnSend, txnID: strconv.Itoa(i)}
		_, _ = s.do(context.Background(), key, func() (string, error) { return "$e" + strconv.Itoa(i), nil })
	}
	if len(s.entries) != maxTxns || len(s.byEvent) != maxTxns {
		t.Fatalf("store holds %d entries, %d event IDs; bound is %d", len(s.entries), len(s.byEvent), maxTxns)
	}
	if _, ok := a.TransactionIDFor("$e0", "@a:x", "D"); ok {
		t.Error("the oldest transaction was not evicted")
	}
	if txn, ok := a.TransactionIDFor("$e7", "@a:x", "D"); !ok || txn != "7" {
		t.Errorf("TransactionIDFor = %q %v", txn, ok)
	}
	if _, ok := a.TransactionIDFor("$e7", "@a:x", "OTHER"); ok {
		t.Error("another device saw the transaction ID")
	}
}
