package console

func (c *console) ledger(v *visit) error {
	var state row
	if err := v.api.get("/api/ledger", nil, &state); err != nil {
		return err
	}
	return v.show(c, "ledger", "Ledger", "ledger", "", state)
}
