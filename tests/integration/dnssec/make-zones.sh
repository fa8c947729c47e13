#!/bin/sh
# Builds the DNSSEC test zones into DIR (which must exist), with keys made
# afresh on every run: no private key is ever checked in.
#   example.test.signed  signed with a KSK + ZSK (NSEC): answers are secure
#   bogus.test.signed    signed, then one record's address edited: its RRSIG
#                        no longer matches, so that answer is bogus
#   expired.test.signed  signed with signatures that expired in 2001: bogus
#   2.0.192.in-addr.arpa.signed  signed reverse zone (PTR of host.example.test)
#   plain.test.zone      not signed and not anchored: insecure
#   anchors.key          DS records of the three signed zones' KSKs, the
#                        trust-anchor-file libunbound validates against
# ECDSA P-256 key generation needs no entropy wait (about 10 ms per key).
set -eu
dir=${1:?usage: make-zones.sh DIR}
cd "$dir"

zone() {  # zone NAME: an SOA, NS and a few records; the NS target has no address (nsd does not care)
  cat <<ZONE
\$ORIGIN $1.
\$TTL 300
@        IN SOA ns.$1. hostmaster.$1. 1 3600 600 86400 60
@        IN NS  ns.$1.
ns       IN A   127.0.0.1
host     IN A   192.0.2.10
host     IN AAAA 2001:db8::10
mail     IN A   192.0.2.25
alias    IN CNAME host.$1.
ZONE
}

reverse() {  # reverse NAME: PTRs of 192.0.2.0/24
  cat <<ZONE
\$ORIGIN $1.
\$TTL 300
@        IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 60
@        IN NS  ns.example.test.
10       IN PTR host.example.test.
25       IN PTR mail.example.test.
ZONE
}

sign() {  # sign NAME [ldns-signzone options]: writes NAME.signed, appends the KSK's DS to anchors.key
  name=$1
  shift
  case "$name" in
    *.arpa) reverse "$name" >"$name.zone" ;;
    *) zone "$name" >"$name.zone" ;;
  esac
  ksk=$(ldns-keygen -a ECDSAP256SHA256 -k "$name")
  zsk=$(ldns-keygen -a ECDSAP256SHA256 "$name")
  ldns-signzone "$@" -o "$name." -f "$name.signed" "$name.zone" "$ksk" "$zsk"
  cat "$ksk.ds" >>anchors.key
  cp "$ksk.ds" "$name.ds"
}

: >anchors.key
sign example.test
sign bogus.test
# Edit host's address after signing (the RRSIG still covers 192.0.2.10).
sed -i 's/^\(host\.bogus\.test\.[[:space:]].*IN[[:space:]]*A[[:space:]]*\)192\.0\.2\.10$/\1192.0.2.66/' bogus.test.signed
grep -q '192\.0\.2\.66$' bogus.test.signed || { echo "make-zones.sh: could not tamper bogus.test" >&2; exit 1; }
sign 2.0.192.in-addr.arpa
sign expired.test -i 20000101000000 -e 20010101000000
zone plain.test >plain.test.zone
