package roomserver

import (
	"strconv"
	"testing"

	"github.com/warbler-im/warbler/mxcore"
)

var fuzzTypes = []string{
	mRoomCreate, mRoomMember, mRoomPowerLevels, mRoomJoinRules, mRoomThirdPartyInvite,
	mRoomAliases, mRoomRedaction, "m.room.message", "m.room.name",
}

// FuzzAuthorize checks that Authorize (and the auth events selection) never
// panics, whatever the content of the event and of the state it reads.
func FuzzAuthorize(f *testing.F) {
	f.Add(uint8(11), uint8(1), "@bob:b.test", uBob, []byte(`{"membership":"join"}`), []byte(`{"users":{"@bob:b.test":"5"}}`), []byte(`{"join_rule":"restricted"}`))
	f.Add(uint8(0), uint8(2), "", uMod, []byte(`{"users":{"@x:y":1.5},"events":[],"notifications":{"room":"x"}}`), []byte(`{"ban":1e999}`), []byte(`{}`))
	f.Add(uint8(7), uint8(1), uCarol, uBob, []byte(`{"membership":"invite","third_party_invite":{"signed":{"mxid":"@carol:c.test","token":"t","signatures":{"a":{"ed25519:1":"AAAA"}}}}}`), []byte(`{}`), []byte(`{"join_rule":"knock_restricted"}`))
	f.Add(uint8(11), uint8(0), "", uAlice, []byte(`{"additional_creators":["@a:b",5],"room_version":"12"}`), []byte(`null`), []byte(`[`))
	f.Fuzz(func(t *testing.T, version, typ uint8, stateKey, sender string, content, plContent, jrContent []byte) {
		rv, _ := mxcore.GetRoomVersion(strconv.Itoa(int(version)%12 + 1))
		r := newTestRoom(t, int(version)%12+1, nil)
		state := r.state.clone()
		state.put(rawEvent(rv, mRoomPowerLevels, sptr(""), uAlice, plContent))
		state.put(rawEvent(rv, mRoomJoinRules, sptr(""), uAlice, jrContent))
		state.put(rawEvent(rv, mRoomThirdPartyInvite, sptr("t"), uBob, jrContent))
		state.put(rawEvent(rv, mRoomMember, sptr(uCarol), uCarol, plContent))
		var sk *string
		if typ%2 == 0 || typ/2%uint8(len(fuzzTypes)) == 1 {
			sk = &stateKey
		}
		ev := rawEvent(rv, fuzzTypes[int(typ/2)%len(fuzzTypes)], sk, sender, content)
		_ = Authorize(ev, state)
		_ = AuthEventsNeededFor(ev)
		_ = PowerLevelOf(sender, state)
		_ = RequiredPowerLevel(ev.Type(), sk != nil, state)
		_ = JoinAuthorisingServer(ev)
	})
}

// rawEvent is a test event whose content is arbitrary bytes, valid JSON or
// not, as a fuzzer produces them.
func rawEvent(rv mxcore.RoomVersion, typ string, stateKey *string, sender string, content []byte) *testEvent {
	return &testEvent{
		rv: rv, id: "$fuzz", roomID: roomIDFor(atoiVersion(rv)), typ: typ, stateKey: stateKey,
		sender: sender, content: content, prev: []string{"$prev"}, redacts: "$x:b.test",
		raw: []byte(`{}`),
	}
}

func atoiVersion(rv mxcore.RoomVersion) int {
	n, _ := strconv.Atoi(rv.ID)
	return n
}
