package console

func (c *console) ledger(v *visit) error {
	state, _, err := v.api.LedgerState(v.ctx)
	if err != nil {
		return err
	}
	return v.show(c, "ledger", "Ledger", "ledger", "", state)
}
