#!/usr/bin/env bash
# The same as eng/backends/AzureBlob.sh (defines ensure_azurite and ensure_AzureBlob); sourcing it has no side effects.
# shellcheck source=AzureBlob.sh
source "$(dirname "${BASH_SOURCE[0]}")/AzureBlob.sh"
