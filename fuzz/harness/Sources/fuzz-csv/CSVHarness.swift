import CohortData
import CohortTensor
import FuzzSupport

/// A CSV file read with a schema (`SchemaReader.read`, for training and for prediction), the
/// preprocessing fitted on what it read and applied to it, and the schema-less reader
/// (`CSVDataset`). Two schemas: a classification one and a regression one.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCSV(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = FuzzInput.bytes(data, size)
    for schema in csvSchemas {
        for predicting in [false, true] {
            guard let raw = try? SchemaReader.read(bytes: input, path: "fuzz.csv", schema: schema, predicting: predicting) else { continue }
            if raw.sampleShape != [schema.features.count] { fatalError("raw rows have \(raw.sampleShape) values, the schema \(schema.features.count)") }
            guard !predicting, let fitted = try? FittedPreprocessing.fit(schema: schema, rows: raw.labelled.inputs, targets: raw.labelled.targets)
            else { continue }
            if let encoded = try? fitted.apply(raw), encoded.sampleShape != [schema.encodedWidth] {
                fatalError("encoded rows have \(encoded.sampleShape) values, the schema \(schema.encodedWidth)")
            }
        }
    }
    _ = try? CSVDataset(bytes: input, path: "fuzz.csv", label: "outcome")
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzCSVInit(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    FuzzInput.writeSeedsIfAsked(csvSeeds)
    return 0
}

let csvFeatures = [
    FeatureColumn(name: "age", type: .numeric, missingPolicy: .mean, indicator: true),
    FeatureColumn(name: "sex", type: .binary, categories: ["F", "M"], missingPolicy: .mostFrequent),
    FeatureColumn(name: "site", type: .categorical, categories: ["a", "b", "c"], missingPolicy: .constant, fill: "a"),
    FeatureColumn(name: "dose", type: .numeric, missingPolicy: .dropRow, standardize: false),
    FeatureColumn(name: "score", type: .numeric, missingPolicy: .median),
]
let csvSchemas = [
    DatasetSchema(label: .init(column: "outcome", classes: ["no", "yes"]), features: csvFeatures, ignore: ["id"]),
    DatasetSchema(label: .regression(column: "outcome", standardize: true), features: csvFeatures, ignore: ["id"]),
]

/// Valid files for the schemas: classification and regression labels, missing cells of every
/// policy, quoted cells, CRLF line ends, a byte order mark, unlabelled rows, reordered columns.
func csvSeeds() throws -> [(name: String, bytes: [UInt8])] {
    let files = [
        ("classification", "id,age,sex,site,dose,score,outcome\n1,34,F,a,1.5,0.2,no\n2,51,M,b,2.0,0.9,yes\n3,,M,c,0.5,,yes\n4,29,F,,1.0,0.4,\n"),
        ("regression", "id,age,sex,site,dose,score,outcome\n1,34,F,a,1.5,0.2,3.25\n2,51,M,b,2.0,0.9,-1.5e2\n3,NA,M,c,0.5,?,7\n"),
        ("quoted-crlf-reordered", "\u{FEFF}outcome,score,\"dose\",site,sex,age,id\r\n\"yes\",1,2,\"b\",M,40,\"x,y\"\r\nno,0.5,1,a,F,22,\"q\"\"r\"\r\n"),
        ("predicting", "age,sex,site,dose,score\n34,F,a,1.5,0.2\n51,M,b,2.0,0.9\n"),
    ]
    return files.map { ($0.0, Array($0.1.utf8)) }
}
