# Sourced by the scripts: puts the Swift toolchain on PATH, or says clearly that it is missing.
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
  export PATH="/opt/swift/usr/bin:$PATH"
fi
if ! command -v swift >/dev/null 2>&1; then
  echo "neosc: the Swift 6 toolchain is required (expected in /opt/swift or on PATH)" >&2
  exit 1
fi
