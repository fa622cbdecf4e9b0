package sytest

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/warbler-im/warbler/sytest/harness"
)

// TestMautrixClientAccountLifecycle drives the account API with a real
// client library, as a bot or an app built on mautrix-go would.
func TestMautrixClientAccountLifecycle(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		ctx := t.Context()
		anon, err := mautrix.NewClient(s.ClientURL, "", "")
		if err != nil {
			t.Fatal(err)
		}
		avail, err := anon.RegisterAvailable(ctx, "mia")
		if err != nil || !avail.Available {
			t.Fatalf("RegisterAvailable: %+v %v", avail, err)
		}
		reg, err := anon.RegisterDummy(ctx, &mautrix.ReqRegister[any]{Username: "mia", Password: "mia-pw", InitialDeviceDisplayName: "mautrix"})
		if err != nil {
			t.Fatalf("RegisterDummy: %v", err)
		}
		if reg.UserID != id.UserID("@mia:"+s.Name) || reg.AccessToken == "" {
			t.Fatalf("register: %+v", reg)
		}

		cli, err := mautrix.NewClient(s.ClientURL, "", "")
		if err != nil {
			t.Fatal(err)
		}
		login, err := cli.Login(ctx, &mautrix.ReqLogin{
			Type:                     mautrix.AuthTypePassword,
			Identifier:               mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "mia"},
			Password:                 "mia-pw",
			InitialDeviceDisplayName: "second device",
			StoreCredentials:         true,
		})
		if err != nil {
			t.Fatalf("Login: %v", err)
		}
		who, err := cli.Whoami(ctx)
		if err != nil || who.UserID != reg.UserID || who.DeviceID != login.DeviceID {
			t.Fatalf("Whoami: %+v %v", who, err)
		}
		devices, err := cli.GetDevicesInfo(ctx)
		if err != nil || len(devices.Devices) != 2 {
			t.Fatalf("GetDevicesInfo: %+v %v", devices, err)
		}
		if err := cli.SetDeviceInfo(ctx, login.DeviceID, &mautrix.ReqDeviceInfo{DisplayName: "renamed"}); err != nil {
			t.Fatalf("SetDeviceInfo: %v", err)
		}
		if info, err := cli.GetDeviceInfo(ctx, login.DeviceID); err != nil || info.DisplayName != "renamed" {
			t.Fatalf("GetDeviceInfo: %+v %v", info, err)
		}
		if err := cli.SetDisplayName(ctx, "Mia"); err != nil {
			t.Fatalf("SetDisplayName: %v", err)
		}
		if p, err := cli.GetProfile(ctx, reg.UserID); err != nil || p.DisplayName != "Mia" {
			t.Fatalf("GetProfile: %+v %v", p, err)
		}
		caps, err := cli.Capabilities(ctx)
		if err != nil || caps.RoomVersions == nil || caps.RoomVersions.Default != "12" {
			t.Fatalf("Capabilities: %+v %v", caps, err)
		}
		deleteFirstDevice(t, cli, reg.DeviceID)
		if _, err := cli.Logout(ctx); err != nil {
			t.Fatalf("Logout: %v", err)
		}
		if _, err := cli.Whoami(ctx); !errors.Is(err, mautrix.MUnknownToken) {
			t.Fatalf("Whoami after logout: %v, want M_UNKNOWN_TOKEN", err)
		}
	})
}

// deleteFirstDevice deletes a device through user-interactive auth the
// way a client does: try, read the flows from the 401, answer the stage.
func deleteFirstDevice(t *testing.T, cli *mautrix.Client, deviceID id.DeviceID) {
	t.Helper()
	ctx := t.Context()
	// DeleteDevice drops the body of an error, so the first attempt goes
	// through MakeRequest, which returns it, as mautrix's own UIA code does.
	path := cli.BuildClientURL("v3", "devices", deviceID)
	body, err := cli.MakeRequest(ctx, http.MethodDelete, path, &mautrix.ReqDeleteDevice[any]{}, nil)
	var httpErr mautrix.HTTPError
	if !errors.As(err, &httpErr) || httpErr.Response == nil || httpErr.Response.StatusCode != http.StatusUnauthorized {
		t.Fatalf("DeleteDevice without auth: %v, want a 401 challenge", err)
	}
	var uia mautrix.RespUserInteractive
	if err := json.Unmarshal(body, &uia); err != nil || !uia.HasSingleStageFlow(mautrix.AuthTypePassword) {
		t.Fatalf("challenge: %s (%v)", body, err)
	}
	auth := map[string]any{
		"type": mautrix.AuthTypePassword, "session": uia.Session, "password": "mia-pw",
		"identifier": mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: string(cli.UserID)},
	}
	if err := cli.DeleteDevice(ctx, deviceID, &mautrix.ReqDeleteDevice[any]{Auth: auth}); err != nil {
		t.Fatalf("DeleteDevice with auth: %v", err)
	}
	devices, err := cli.GetDevicesInfo(ctx)
	if err != nil || len(devices.Devices) != 1 {
		t.Fatalf("devices after deletion: %+v %v", devices, err)
	}
}
