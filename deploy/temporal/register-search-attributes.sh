#!/bin/sh
# One-shot job for the temporal-admin-tools compose service.
# Waits until the Temporal namespace answers, then makes sure the custom search attributes of
# b2b-checkout exist (all of type Keyword). Safe to run any number of times: attributes that are
# already registered are left alone, and the job only succeeds once every one of them is listed.
set -u

ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
ATTRIBUTES="${SEARCH_ATTRIBUTES:-CartId WebstoreId CheckoutState}"
ATTEMPTS="${REGISTER_ATTEMPTS:-90}"
PAUSE_SECONDS=2

# Prints the attributes not yet listed in the namespace; fails when the list cannot be read.
not_registered() {
  listing=$(temporal operator search-attribute list --address "$ADDRESS" --namespace "$NAMESPACE" 2>&1) || return 1
  for name in $ATTRIBUTES; do
    printf '%s\n' "$listing" | grep -qw -- "$name" || printf '%s ' "$name"
  done
  return 0
}

attempt=1
while [ "$attempt" -le "$ATTEMPTS" ]; do
  if todo=$(not_registered); then
    if [ -z "$todo" ]; then
      echo "search attributes registered in namespace $NAMESPACE: $ATTRIBUTES"
      exit 0
    fi
    set --
    for name in $todo; do
      set -- "$@" --name "$name" --type Keyword
    done
    echo "registering search attributes in namespace $NAMESPACE: $todo"
    # An error here (namespace cache not refreshed yet, a concurrent registration) is retried;
    # the next pass checks the listing again.
    temporal operator search-attribute create --address "$ADDRESS" --namespace "$NAMESPACE" "$@" \
      || echo "create did not succeed yet (attempt $attempt/$ATTEMPTS)"
  else
    echo "waiting for namespace $NAMESPACE at $ADDRESS (attempt $attempt/$ATTEMPTS)"
  fi
  attempt=$((attempt + 1))
  sleep "$PAUSE_SECONDS"
done

echo "could not register search attributes ($ATTRIBUTES) in namespace $NAMESPACE at $ADDRESS" >&2
exit 1
