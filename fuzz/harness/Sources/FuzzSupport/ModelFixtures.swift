import CohortNN
import Foundation

/// Small real model descriptions, for seeds.
public enum ModelFixtures {
    /// A dense network on 4 features (version 1).
    public static let dense = #"""
    {"format": "cohort.model", "version": 1, "inputShape": [4],
     "layers": [{"kind": "dense", "name": "fc1", "units": 6}, {"kind": "batchnorm1d", "name": "bn"},
                {"kind": "relu", "name": "act"}, {"kind": "dropout", "name": "drop", "rate": 0.1},
                {"kind": "dense", "name": "head", "units": 3}]}
    """#
    /// A small CNN on 8×8×1 images (version 1).
    public static let cnn = #"""
    {"inputShape": [8, 8, 1],
     "layers": [{"kind": "conv2d", "name": "features.0", "units": 4, "kernel": 3, "padding": 1},
                {"kind": "batchnorm2d", "name": "features.1"}, {"kind": "relu", "name": "features.2"},
                {"kind": "maxpool2d", "name": "features.3", "kernel": 2}, {"kind": "flatten", "name": "flatten"},
                {"kind": "dense", "name": "head", "units": 2}]}
    """#
    /// A graph (version 2) with a residual add, layer norm and GELU.
    public static let graph = #"""
    {"format": "cohort.model", "version": 2, "inputShape": [6],
     "layers": [{"kind": "linear", "name": "a", "units": 6}, {"kind": "gelu", "name": "g"},
                {"kind": "add", "name": "res", "inputs": ["g", "input"]}, {"kind": "layernorm", "name": "ln"},
                {"kind": "linear", "name": "head", "units": 2}]}
    """#

    /// The fixtures, decoded.
    public static func specs() throws -> [(name: String, spec: ModelSpec)] {
        try [("dense", dense), ("cnn", cnn), ("graph", graph)].map { ($0.0, try ModelSpec.decode(json: Data($0.1.utf8))) }
    }
}
