import XCTest
import CohortFederation
import CohortNN
import CohortTensor
import Foundation

/// The plan's `adaptation` section: decoding, validation, and a node that cannot act on it.
final class LocalAdaptationTests: XCTestCase {
    private func plan(_ json: String) throws -> TrainingPlan { try JSONDecoder().decode(TrainingPlan.self, from: Data(json.utf8)) }

    func testOldPlansDecodeAndTheSectionKeepsItsDefaults() throws {
        XCTAssertNil(try plan(#"{"strategy":"fedbn"}"#).adaptation)
        let p = try plan(#"{"strategy":"fedbn","adaptation":{"method":"shot","guard":true,"appliesTo":"all"}}"#)
        let a = try XCTUnwrap(p.adaptation)
        XCTAssertEqual(a.method, "shot")
        XCTAssertTrue(a.negativeTransferGuard)
        XCTAssertEqual(a.minLabels, 100)
        XCTAssertEqual(a.guardEpochs, 20)
        XCTAssertNoThrow(try p.validate())
        XCTAssertEqual(try JSONDecoder().decode(TrainingPlan.self, from: JSONEncoder().encode(p)), p)
        XCTAssertTrue(String(decoding: try JSONEncoder().encode(p), as: UTF8.self).contains(#""guard":true"#))
        XCTAssertTrue(a.applies(labelledRows: 1000))
        let few = try XCTUnwrap(try plan(#"{"adaptation":{"minLabels":50}}"#).adaptation)
        XCTAssertEqual(few.method, "adabn")
        XCTAssertTrue(few.applies(labelledRows: 49))
        XCTAssertFalse(few.applies(labelledRows: 50))
        XCTAssertFalse(try XCTUnwrap(try plan(#"{"adaptation":{"method":"none","guard":true}}"#).adaptation).applies(labelledRows: 0))
    }

    func testValidationNamesTheField() throws {
        let cases = [
            (#"{"adaptation":{"method":"dann"}}"#, "adaptation.method must be one of none, adabn, tent, shot, got 'dann'"),
            (#"{"adaptation":{"appliesTo":"some"}}"#, "adaptation.appliesTo"),
            (#"{"adaptation":{"epochs":0}}"#, "adaptation.epochs"),
            (#"{"adaptation":{"learningRate":-1}}"#, "adaptation.learningRate"),
            (#"{"adaptation":{"batchSize":1}}"#, "adaptation.batchSize"),
            (#"{"adaptation":{"method":"none"}}"#, "does nothing"),
            (#"{"adaptation":{"guard":true,"guardEpochs":0}}"#, "adaptation.guardEpochs"),
        ]
        for (json, text) in cases {
            XCTAssertThrowsError(try plan(json).validate(), json) { XCTAssertTrue("\($0)".contains(text), "\(json): \($0)") }
        }
    }

    /// A node with no labelled rows under a plan without an adaptation step stops with a clear
    /// error; the other node's round still completes.
    func testRecordLevelDPRefusesAnAdaptationStep() throws {
        let plan = try JSONDecoder().decode(TrainingPlan.self, from: Data(#"{"recordPrivacy":{"noiseMultiplier":1.1},"adaptation":{"method":"adabn"}}"#.utf8))
        XCTAssertThrowsError(try plan.validate()) {
            XCTAssertTrue("\($0)".contains("recordPrivacy cannot be combined with adaptation"), "\($0)")
        }
        var without = plan
        without.adaptation = nil
        XCTAssertNoThrow(try without.validate())
    }

    func testALabelFreeNodeRefusesAPlanWithNothingForItToDo() throws {
        let (coordinator, cleanup) = try TinyFederation.coordinator(nodes: ["a", "b"]) { config in
            config.rounds = 1
            config.minNodes = 2
            config.quorum = 1
            config.roundTimeout = 10
            config.finalEvaluation = false
        }
        defer { cleanup() }
        let port = coordinator.port
        let errors = ResultsBox()
        let done = DispatchGroup()
        for (index, name) in ["a", "b"].enumerated() {
            done.enter()
            Thread {
                defer { done.leave() }
                var config = TinyFederation.node(name, secret: TinyFederation.secret(index), port: port)
                if name == "b" {   // no labelled rows, only unlabelled inputs
                    config.train = LabelledData(inputs: Tensor(shape: [0, 2]), labels: [])
                    config.validation = config.train
                    config.unlabelled = TinyFederation.data.inputs
                }
                do { errors.set(name, "rounds \(try FederatedNode(config: config).run())") } catch { errors.set(name, "\(error)") }
            }.start()
        }
        let records = try coordinator.run()
        XCTAssertEqual(done.wait(timeout: .now() + 20), .success)
        XCTAssertEqual(records.first?.accepted, ["a"])
        XCTAssertTrue(errors.get("b")?.contains("b: no labelled training rows, and the plan names no adaptation step for this node") ?? false,
                      errors.get("b") ?? "nil")
    }
}
