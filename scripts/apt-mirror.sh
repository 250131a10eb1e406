# Sourced by set-up and the fresh-root check: the Debian mirror this machine's apt already uses (never typed here).
# Reads one-line lists (deb [options] URL suite ...) and deb822 .sources (URIs: URL ...) from the files that exist,
# skips the security archive, prints the first URL ending in /debian, or nothing.
debian_mirror() {
  local f line url
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    while IFS= read -r line; do
      case "$line" in
        deb\ *|deb$'\t'*|URIs:*) ;;
        *) continue;;
      esac
      for url in $line; do
        case "$url" in
          http://*/debian|http://*/debian/|https://*/debian|https://*/debian/) echo "${url%/}"; return 0;;
        esac
      done
    done < "$f"
  done
  return 0
}
