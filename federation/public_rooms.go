package federation

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/warbler-im/warbler/mxcore"
)

// maxPublicRoomsBody bounds a POST /publicRooms request body.
const maxPublicRoomsBody = 64 << 10

// servePublicRoomsGet implements GET /v1/publicRooms: the query's
// parameters become the POST body the directory takes.
func (rt *Routes) servePublicRoomsGet(r *http.Request) (*Egress, error) {
	q := r.URL.Query()
	req := map[string]any{}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, mxcore.InvalidParam("limit must be a non-negative integer")
		}
		req["limit"] = n
	}
	if s := q.Get("since"); s != "" {
		req["since"] = s
	}
	if s := q.Get("third_party_instance_id"); s != "" {
		req["third_party_instance_id"] = s
	}
	if s := q.Get("include_all_networks"); s != "" {
		b, err := boolParam(r, "include_all_networks")
		if err != nil {
			return nil, err
		}
		req["include_all_networks"] = b
	}
	body, _ := json.Marshal(req)
	return rt.publicRooms(r.Context(), body)
}

// servePublicRoomsPost implements POST /v1/publicRooms.
func (rt *Routes) servePublicRoomsPost(r *http.Request) (*Egress, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPublicRoomsBody+1))
	if err != nil {
		return nil, mxcore.BadJSON("Could not read the request body")
	}
	if len(body) > maxPublicRoomsBody {
		return nil, mxcore.TooLarge("The request body is too large")
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	return rt.publicRooms(r.Context(), body)
}

// publicRooms gets a page of the directory and leaves out each room the
// policy keeps from the asking server (the wrapper decides on the
// directory as a whole; each entry is one room's data).
func (rt *Routes) publicRooms(ctx context.Context, body json.RawMessage) (*Egress, error) {
	page, err := rt.Directory.ServePublicRooms(ctx, body)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(page)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	var chunk []json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(fields["chunk"], &chunk); err != nil {
		return nil, err
	}
	kept := make([]json.RawMessage, 0, len(chunk))
	for _, room := range chunk {
		var id struct {
			RoomID string `json:"room_id"`
		}
		if json.Unmarshal(room, &id) == nil && rt.policyAllows(ctx, id.RoomID, Origin(ctx), "/v1/publicRooms") {
			kept = append(kept, room)
		}
	}
	fields["chunk"], _ = json.Marshal(kept)
	return &Egress{JSON: fields}, nil
}
