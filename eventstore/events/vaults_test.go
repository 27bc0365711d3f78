package events

import (
	"encoding/json"
	"testing"
)

// An update that leaves the config alone has no config member; one that empties it
// has an empty object: the two must stay apart.
func TestVaultUpdatedConfigPresence(t *testing.T) {
	b, _ := json.Marshal(VaultUpdatedV1{VaultID: "v", DisplayName: str("x")})
	empty := map[string]string{}
	c, _ := json.Marshal(VaultUpdatedV1{VaultID: "v", Config: &empty})
	if string(b) != `{"vaultId":"v","displayName":"x"}` || string(c) != `{"vaultId":"v","config":{}}` {
		t.Errorf("config presence is lost: %s %s", b, c)
	}
}
