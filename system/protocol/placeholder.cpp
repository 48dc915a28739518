// Removed as soon as the first real source of samsa_protocol lands.
