package clientapi

import (
	"context"
	"maps"
)

// addUnreadCounts puts each joined room's unread notification counts in
// the response (sync.yaml unread_notifications, and, when the timeline
// filter asks for them, unread_thread_notifications with the main
// timeline's counts kept in unread_notifications).
func (v *syncView) addUnreadCounts(ctx context.Context, resp *syncResponse) error {
	tracker := v.s.api.unread
	if tracker == nil || len(resp.Rooms.Join) == 0 {
		return nil
	}
	// The events of this response may still be under evaluation.
	v.s.api.pending.wait(ctx, maps.Keys(resp.Rooms.Join))
	counts, err := tracker.counts(ctx, v.req.userID)
	if err != nil {
		return err
	}
	threaded := v.req.filter.timeline() != nil && v.req.filter.timeline().UnreadThreadNotifications
	for roomID, jr := range resp.Rooms.Join {
		jr.UnreadNotifications = map[string]int{"notification_count": 0, "highlight_count": 0}
		for key, c := range counts {
			if key.roomID != roomID {
				continue
			}
			if threaded && key.threadID != "main" {
				if jr.UnreadThreadNotifications == nil {
					jr.UnreadThreadNotifications = map[string]map[string]int{}
				}
				jr.UnreadThreadNotifications[key.threadID] = map[string]int{"notification_count": c.Notify, "highlight_count": c.Highlight}
				continue
			}
			jr.UnreadNotifications["notification_count"] += c.Notify
			jr.UnreadNotifications["highlight_count"] += c.Highlight
		}
	}
	return nil
}
