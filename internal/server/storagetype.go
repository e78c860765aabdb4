package server

// storageType names the store as Vault's sys/seal-status does
// (storage_type): "sqlite" or "postgresql".
func storageType(url string) string {
	switch kind, _, _ := storageKind(url); kind {
	case "postgres":
		return "postgresql"
	default:
		return kind
	}
}
