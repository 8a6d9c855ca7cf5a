"""Who can remove a finding: RDAP lookups of the registrar's and the hosting network's abuse
contacts (RFC 9082/9083), with the IANA bootstrap files (RFC 9224) and a table of CDNs.

Pure: no ORM. Every request goes through the safe fetcher (cases.kernel.net), so an RDAP
server, a bootstrap entry or a redirect that points at a non-public address is refused."""
