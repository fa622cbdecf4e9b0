package clientapi

import (
	"context"
	"encoding/json"

	"github.com/warbler-im/warbler/mxcore"
)

// The public room directory across servers: another server's directory
// is asked of it (the server parameter of /publicRooms), and this
// server's is served to others (the federation /publicRooms calls
// ServePublicRooms).

// remotePublicRooms asks server for a page of its directory. The request
// goes as the POST body the federation API takes; the answer is checked
// and cut to the page size this server allows before it is passed on.
func (a *API) remotePublicRooms(ctx context.Context, server string, req publicRoomsRequest) (any, error) {
	if !mxcore.ValidServerName(server) {
		return nil, mxcore.InvalidParam("server is not a server name")
	}
	if a.RemoteDirectory == nil {
		return nil, mxcore.NotFound("The directory of " + server + " cannot be reached from this server")
	}
	req.Limit = publicRoomsLimit(req.Limit)
	// Empty fields are left out: some servers read an empty network ID
	// as a network to list.
	wire := struct {
		Limit                int                `json:"limit"`
		Since                string             `json:"since,omitempty"`
		Filter               *publicRoomsFilter `json:"filter,omitempty"`
		IncludeAllNetworks   bool               `json:"include_all_networks,omitempty"`
		ThirdPartyInstanceID string             `json:"third_party_instance_id,omitempty"`
	}{Limit: req.Limit, Since: req.Since, IncludeAllNetworks: req.IncludeAllNetworks, ThirdPartyInstanceID: req.ThirdPartyInstanceID}
	if req.Filter.GenericSearchTerm != "" || req.Filter.RoomTypes != nil {
		wire.Filter = &req.Filter
	}
	body, err := json.Marshal(wire)
	if err != nil {
		return nil, err
	}
	raw, err := a.RemoteDirectory.PublicRooms(ctx, server, body)
	if err != nil {
		return nil, err
	}
	var page publicRoomsPage
	if err := json.Unmarshal(raw, &page); err != nil {
		return nil, mxcore.NewError(502, mxcore.ErrUnknown, "%s answered with a malformed directory", server)
	}
	if page.Chunk == nil {
		page.Chunk = []publicRoom{}
	}
	page.Chunk = page.Chunk[:min(len(page.Chunk), req.Limit)]
	return page, nil
}

// ServePublicRooms answers another server's query of this server's
// directory; body is the federation POST /publicRooms request (the GET
// form's query is turned into the same body). The federation API passes
// the answer through its policy seam.
func (a *API) ServePublicRooms(ctx context.Context, body json.RawMessage) (any, error) {
	var req publicRoomsRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, mxcore.BadJSON("The request body is not a directory query")
	}
	if err := req.check(); err != nil {
		return nil, err
	}
	return a.localPublicRooms(ctx, req)
}
