package admission

// MaxDrainBytes exposes maxDrainBytes to tests.
const MaxDrainBytes = maxDrainBytes
