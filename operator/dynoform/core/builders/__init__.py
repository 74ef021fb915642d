"""Pure builders: a Formation (and its resolved sizes) in, the children's manifests out."""
