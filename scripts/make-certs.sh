#!/usr/bin/env bash
# Generates a private CA and a coordinator certificate signed by it, for TLS between
# `cohort coordinator` and `cohort node`.
#   scripts/make-certs.sh OUT_DIR [HOST_OR_IP ...]     (default hosts: localhost 127.0.0.1 ::1)
# Writes OUT_DIR/ca.pem, ca.key (keep secret; only needed to sign more certificates),
# coordinator.pem, coordinator.key. Give nodes ca.pem (--tls-ca); the coordinator gets
# coordinator.pem and coordinator.key (--tls-cert, --tls-key).
set -euo pipefail
OUT=${1:?usage: scripts/make-certs.sh OUT_DIR [HOST_OR_IP ...]}
shift || true
HOSTS=("$@")
[ ${#HOSTS[@]} -gt 0 ] || HOSTS=(localhost 127.0.0.1 ::1)
DAYS=${DAYS:-3650}
mkdir -p "$OUT"
SAN=""
for h in "${HOSTS[@]}"; do
  if [[ "$h" =~ ^[0-9.]+$ || "$h" == *:* ]]; then SAN+="IP:$h,"; else SAN+="DNS:$h,"; fi
done
SAN=${SAN%,}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$OUT/ca.key" -out "$OUT/ca.pem" \
  -days "$DAYS" -subj "/CN=Cohort private CA" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$OUT/coordinator.key" -out "$OUT/coordinator.csr" \
  -subj "/CN=${HOSTS[0]}" 2>/dev/null
openssl x509 -req -in "$OUT/coordinator.csr" -CA "$OUT/ca.pem" -CAkey "$OUT/ca.key" -CAcreateserial \
  -out "$OUT/coordinator.pem" -days "$DAYS" \
  -extfile <(printf "subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n" "$SAN") 2>/dev/null
rm -f "$OUT/coordinator.csr" "$OUT/ca.srl"
chmod 600 "$OUT/ca.key" "$OUT/coordinator.key"
echo "wrote $OUT/ca.pem, $OUT/coordinator.pem and keys (SAN: $SAN)"
