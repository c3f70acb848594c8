package admission

// BoundWarnings exposes boundWarnings to tests.
var BoundWarnings = boundWarnings
