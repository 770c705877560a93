package elect

// lostCode is the "lock lost" exit code, shared with `lock`.
const lostCode = 11
