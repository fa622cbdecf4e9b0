package sqlstore

import (
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// TestEventCacheRefusesReadsOlderThanAChange: a read that began before a
// committed change to an event does not cache what it read, even when the
// change lands after the read's rows and before they are put.
func TestEventCacheRefusesReadsOlderThanAChange(t *testing.T) {
	c := newEventCache()
	old := storage.StoredEvent{EventID: "$e", JSON: []byte(`{}`)}
	epoch := c.begin()
	c.endWrite("$e") // the redaction commits while the read is in flight
	c.putEvents(epoch, []storage.StoredEvent{old})
	if _, ok := c.get("$e"); ok {
		t.Fatal("a read from before the change was cached")
	}
	c.putEvents(c.begin(), []storage.StoredEvent{old, {EventID: "$o", Outlier: true}})
	if _, ok := c.get("$e"); !ok {
		t.Error("a read after the change was not cached")
	}
	if _, ok := c.get("$o"); ok {
		t.Error("an outlier was cached")
	}
}
